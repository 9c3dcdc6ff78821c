// The addon's entry point: exports every function that a kernel file registered with INCEPTION_EXPORT,
// each wrapped so that a C++ or oneDNN exception becomes a JS Error instead of aborting the process, and so
// that asynchronous signals wait until the call returns (see AsyncSignalsDeferred).
#include <omp.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "dnnl_common.h"

namespace inception {

/**
 * Blocks asynchronous signals on this thread for its lifetime. oneDNN's JIT kernels (its gemm at least) keep
 * data below the stack pointer, where a signal handler running on the same thread writes its frame: with
 * V8's sampling profiler on (`node --cpu-prof`, SIGPROF every millisecond) GoogLeNet inference corrupted
 * the heap within one batch, and SIGINT, SIGCHLD or SIGWINCH could do the same. Deferred, a signal is
 * handled when the kernel returns (at most a few hundred milliseconds later). Faults (SIGSEGV and the like)
 * stay unblocked.
 */
class AsyncSignalsDeferred {
 public:
  AsyncSignalsDeferred() {
    sigset_t async;
    sigfillset(&async);
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&async, fault);
    pthread_sigmask(SIG_BLOCK, &async, &previous_);
  }
  ~AsyncSignalsDeferred() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  AsyncSignalsDeferred(const AsyncSignalsDeferred &) = delete;
  AsyncSignalsDeferred &operator=(const AsyncSignalsDeferred &) = delete;

 private:
  sigset_t previous_;
};

static Napi::Value callGuarded(const Napi::CallbackInfo &info) {
  auto function = reinterpret_cast<NativeFunction>(info.Data());
  AsyncSignalsDeferred deferred;
  try {
    return function(info);
  } catch (const Napi::Error &) {
    throw;
  } catch (const dnnl::error &e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what() + " (status " + std::to_string(e.status) + ")");
  } catch (const std::exception &e) {
    throw Napi::Error::New(info.Env(), std::string("onednn addon: ") + e.what());
  }
}

/** OpenMP reads OMP_NUM_THREADS itself and defaults to all cores; this reports what it chose. */
static Napi::Value NumThreads(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}
INCEPTION_EXPORT("numThreads", NumThreads);

/** oneDNN's name for the instruction set its kernels dispatch to on this CPU (what `inception doctor` shows). */
std::string cpuIsaName(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: {
      char hex[16];
      snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>(isa));
      return hex;
    }
  }
}

}  // namespace inception

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace inception;
  {
    // OpenMP's worker threads start here, with asynchronous signals blocked, and keep that mask (threads
    // inherit it), so signals sent to the process never land on a thread that is running a kernel.
    AsyncSignalsDeferred deferred;
#pragma omp parallel
    { (void)omp_get_thread_num(); }
  }
  for (const auto &[name, function] : nativeExports()) {
    exports.Set(name, Napi::Function::New(env, callGuarded, name, reinterpret_cast<void *>(function)));
  }
  const dnnl_version_t *version = dnnl_version();
  exports.Set("dnnlVersion", std::to_string(version->major) + "." + std::to_string(version->minor) + "." +
                                 std::to_string(version->patch));
  exports.Set("cpuIsa", cpuIsaName(dnnl_get_effective_cpu_isa()));
  return exports;
}

NODE_API_MODULE(inception_onednn, Init)
