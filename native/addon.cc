// The addon's entry point: exports every function that a kernel file registered with INCEPTION_EXPORT,
// each wrapped so that a C++ or oneDNN exception becomes a JS Error instead of aborting the process.
#include <omp.h>

#include <string>

#include "dnnl_common.h"

namespace inception {

static Napi::Value callGuarded(const Napi::CallbackInfo &info) {
  auto function = reinterpret_cast<NativeFunction>(info.Data());
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

}  // namespace inception

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace inception;
  for (const auto &[name, function] : nativeExports()) {
    exports.Set(name, Napi::Function::New(env, callGuarded, name, reinterpret_cast<void *>(function)));
  }
  const dnnl_version_t *version = dnnl_version();
  exports.Set("dnnlVersion", std::to_string(version->major) + "." + std::to_string(version->minor) + "." +
                                 std::to_string(version->patch));
  return exports;
}

NODE_API_MODULE(inception_onednn, Init)
