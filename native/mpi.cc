// Collectives for data-parallel training over MPI: a Node-API addon of its own (inception_mpi), built only
// where an MPI compiler wrapper exists, and written against the standard MPI API alone so that the same
// source builds with Open MPI, MPICH or a cluster's MPI. Collectives run in call order on one dedicated
// thread (MPI needs every rank to issue them in the same order; libuv's pool would run them concurrently)
// and resolve Promises through a thread-safe function, so the event loop never waits on a peer.
//
// Every function is listed once in kFunctions with its argument layout; the layouts are exported so the
// TypeScript side can be checked against them, and they drive the argument checks, so errors name the
// function and the argument.
// The C API only: mpi.h would otherwise pull in the long-removed C++ bindings (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <napi.h>
#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---- Argument layouts: "name:kind", kinds: int, number, buffer (any typed array), float (Float32Array or
// Float64Array).

struct Function {
  const char *name;
  std::vector<const char *> args;
  Napi::Value (*call)(const Napi::CallbackInfo &);
};

std::string argName(const char *layout) {
  std::string s(layout);
  return s.substr(0, s.find(':'));
}
std::string argKind(const char *layout) {
  std::string s(layout);
  return s.substr(s.find(':') + 1);
}

/** Thrown with the function's name prepended by the guard in callGuarded. */
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string mpiError(const char *call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return std::string(call) + " failed (code " + std::to_string(code) + ")";
  return std::string(call) + " failed: " + std::string(text, length);
}

void check(const char *call, int code) {
  if (code != MPI_SUCCESS) throw Failure(mpiError(call, code));
}

// ---- State.

struct State {
  bool initialized = false;
  bool finalized = false;
  int rank = 0, size = 1, localRank = 0, localSize = 1, ranksSharingCpus = 1, affinityCpus = 0;
  /** Collectives run on `collectives`; `arrivals` carries the "I reached collective #n" notes. */
  MPI_Comm collectives = MPI_COMM_NULL, arrivals = MPI_COMM_NULL, local = MPI_COMM_NULL;
  /** Collectives issued by this rank so far (the n of the last one). */
  int32_t issued = 0;
  /** Per rank, the last collective it was seen to reach; -1 when this rank does not track it. */
  std::vector<int32_t> seen;
  std::vector<MPI_Request> receives;
  std::vector<int32_t> receiveBuffers;
  struct Send {
    MPI_Request request;
    std::unique_ptr<int32_t> value;
  };
  std::deque<Send> sends;
};
State state;

void requireInitialized() {
  if (!state.initialized) throw Failure("MPI is not initialised (call init first)");
  if (state.finalized) throw Failure("MPI is already finalised");
}

// ---- The collective thread.

struct Job {
  std::function<int()> run;  // returns an MPI error code
  const char *what;     // the addon function, for messages
  const char *mpiCall;  // the MPI function it runs
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference keep;  // the buffer, alive until the job completes
  int result = MPI_SUCCESS;
  Job(Napi::Env env, const char *w, const char *call)
      : what(w), mpiCall(call), deferred(Napi::Promise::Deferred::New(env)) {}
};

class CollectiveThread {
 public:
  void start(Napi::Env env) {
    done_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}),
                                          "inception_mpi collectives", 0, 1);
    done_.Unref(env);
    thread_ = std::thread([this] { loop(); });
  }

  Napi::Promise submit(Napi::Env env, std::unique_ptr<Job> job) {
    Napi::Promise promise = job->deferred.Promise();
    if (pending_++ == 0) done_.Ref(env);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(job));
    }
    wake_.notify_one();
    return promise;
  }

  size_t pending() const { return pending_; }

  void stop(Napi::Env env) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    done_.Release();
  }

 private:
  void loop() {
    // Asynchronous signals (SIGINT, SIGTERM, SIGUSR1) belong to the JS thread's handlers.
    sigset_t async;
    sigfillset(&async);
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&async, fault);
    pthread_sigmask(SIG_BLOCK, &async, nullptr);
    for (;;) {
      std::unique_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job->result = job->run();
      Job *raw = job.release();
      done_.BlockingCall(raw, [this](Napi::Env env, Napi::Function, Job *finished) {
        std::unique_ptr<Job> owned(finished);
        Napi::HandleScope scope(env);
        if (owned->result == MPI_SUCCESS) {
          owned->deferred.Resolve(env.Undefined());
        } else {
          owned->deferred.Reject(
              Napi::Error::New(env, std::string("mpi.") + owned->what + ": " + mpiError(owned->mpiCall, owned->result))
                  .Value());
        }
        owned->keep.Reset();
        if (--pending_ == 0) done_.Unref(env);
      });
    }
  }

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopping_ = false;
  size_t pending_ = 0;  // touched on the JS thread only
  Napi::ThreadSafeFunction done_;
};
CollectiveThread *collectiveThread = nullptr;

// ---- Arrival notes: which collective each peer reached, for naming a stalled rank. Rank 0 hears from
// everyone and everyone hears from rank 0: 2(n-1) four-byte messages per collective.

constexpr int kArrivalTag = 7;

void postReceive(int peer) {
  check("MPI_Irecv", MPI_Irecv(&state.receiveBuffers[peer], 1, MPI_INT32_T, peer, kArrivalTag, state.arrivals,
                               &state.receives[peer]));
}

/** Takes in the arrival notes that came, and frees finished sends. */
void drainArrivals() {
  for (int peer = 0; peer < state.size; peer++) {
    for (;;) {
      if (state.receives[peer] == MPI_REQUEST_NULL) break;
      int flag = 0;
      if (MPI_Test(&state.receives[peer], &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS || !flag) break;
      state.seen[peer] = state.receiveBuffers[peer];
      postReceive(peer);
    }
  }
  while (!state.sends.empty()) {
    int flag = 0;
    if (MPI_Test(&state.sends.front().request, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS || !flag) break;
    state.sends.pop_front();
  }
}

void announceArrival() {
  state.issued++;
  state.seen[state.rank] = state.issued;
  auto tell = [](int peer) {
    State::Send send{MPI_REQUEST_NULL, std::make_unique<int32_t>(state.issued)};
    check("MPI_Isend",
          MPI_Isend(send.value.get(), 1, MPI_INT32_T, peer, kArrivalTag, state.arrivals, &send.request));
    state.sends.push_back(std::move(send));
  };
  if (state.rank == 0) {
    for (int peer = 1; peer < state.size; peer++) tell(peer);
  } else {
    tell(0);
  }
  drainArrivals();
}

// ---- Arguments.

struct BufferArg {
  void *data;
  size_t bytes;
  size_t elements;
  MPI_Datatype type;
  Napi::Object object;
};

BufferArg bufferArg(const Napi::CallbackInfo &info, size_t index, bool floatOnly) {
  Napi::Value value = info[index];
  if (!value.IsTypedArray()) throw Failure("not a typed array");
  auto array = value.As<Napi::TypedArray>();
  MPI_Datatype type = MPI_BYTE;
  switch (array.TypedArrayType()) {
    case napi_float32_array: type = MPI_FLOAT; break;
    case napi_float64_array: type = MPI_DOUBLE; break;
    default:
      if (floatOnly) throw Failure("not a Float32Array or Float64Array");
  }
  auto bytes = array.ByteLength();
  if (bytes > static_cast<size_t>(INT32_MAX)) throw Failure("larger than 2 GiB (MPI counts are int)");
  auto *data = static_cast<uint8_t *>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return {data, bytes, array.ElementLength(), type, array};
}

int intArg(const Napi::CallbackInfo &info, size_t index) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) throw Failure("not a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (d != static_cast<int>(d)) throw Failure("not an integer");
  return static_cast<int>(d);
}

// ---- Functions.

/** The CPUs this process may run on, and how many ranks on this node share at least one of them. */
void measureCpuSharing() {
  std::vector<uint8_t> mine(CPU_SETSIZE, 0);
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) mine[cpu] = CPU_ISSET(cpu, &set) ? 1 : 0;
  }
#endif
  int count = 0;
  for (uint8_t bit : mine) count += bit;
  state.affinityCpus = count;
  std::vector<uint8_t> all(static_cast<size_t>(CPU_SETSIZE) * state.localSize);
  check("MPI_Allgather", MPI_Allgather(mine.data(), CPU_SETSIZE, MPI_BYTE, all.data(), CPU_SETSIZE, MPI_BYTE,
                                       state.local));
  int sharing = 0;
  for (int r = 0; r < state.localSize; r++) {
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
      if (mine[cpu] && all[static_cast<size_t>(r) * CPU_SETSIZE + cpu]) {
        sharing++;
        break;
      }
    }
  }
  state.ranksSharingCpus = count == 0 ? state.localSize : sharing;
}

/** init(): MPI_Init_thread with MPI_THREAD_MULTIPLE; the world as {rank, size, localRank, localSize, ...}. */
Napi::Value Init(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (state.finalized) throw Failure("MPI was finalised; it cannot be initialised again in this process");
  if (!state.initialized) {
    int already = 0;
    MPI_Initialized(&already);
    if (already) throw Failure("MPI was initialised outside this addon");
    int provided = 0;
    check("MPI_Init_thread", MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    state.initialized = true;
    if (provided < MPI_THREAD_MULTIPLE) {
      throw Failure("this MPI provides thread level " + std::to_string(provided) +
                    ", not MPI_THREAD_MULTIPLE (" + std::to_string(MPI_THREAD_MULTIPLE) +
                    "): rebuild or choose an MPI with thread support");
    }
    // Errors come back as codes (and so as rejected Promises) instead of aborting the job from inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check("MPI_Comm_rank", MPI_Comm_rank(MPI_COMM_WORLD, &state.rank));
    check("MPI_Comm_size", MPI_Comm_size(MPI_COMM_WORLD, &state.size));
    check("MPI_Comm_dup", MPI_Comm_dup(MPI_COMM_WORLD, &state.collectives));
    check("MPI_Comm_dup", MPI_Comm_dup(MPI_COMM_WORLD, &state.arrivals));
    check("MPI_Comm_split_type", MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, state.rank,
                                                     MPI_INFO_NULL, &state.local));
    check("MPI_Comm_rank", MPI_Comm_rank(state.local, &state.localRank));
    check("MPI_Comm_size", MPI_Comm_size(state.local, &state.localSize));
    measureCpuSharing();
    state.seen.assign(state.size, -1);
    state.seen[state.rank] = 0;
    state.receives.assign(state.size, MPI_REQUEST_NULL);
    state.receiveBuffers.assign(state.size, 0);
    for (int peer = 0; peer < state.size; peer++) {
      if (peer == state.rank || (state.rank != 0 && peer != 0)) continue;
      state.seen[peer] = 0;
      postReceive(peer);
    }
    collectiveThread = new CollectiveThread();
    collectiveThread->start(env);
  }
  Napi::Object world = Napi::Object::New(env);
  world.Set("rank", state.rank);
  world.Set("size", state.size);
  world.Set("localRank", state.localRank);
  world.Set("localSize", state.localSize);
  world.Set("affinityCpus", state.affinityCpus);
  world.Set("ranksSharingCpus", state.ranksSharingCpus);
  return world;
}

/** broadcast(buffer, root): root's bytes into every rank's buffer, in place. */
Napi::Value Broadcast(const Napi::CallbackInfo &info) {
  requireInitialized();
  BufferArg buffer = bufferArg(info, 0, false);
  int root = intArg(info, 1);
  if (root < 0 || root >= state.size) throw Failure("root " + std::to_string(root) + " is not a rank of " + std::to_string(state.size));
  announceArrival();
  auto job = std::make_unique<Job>(info.Env(), "broadcast", "MPI_Bcast");
  job->keep = Napi::Persistent(buffer.object);
  MPI_Comm comm = state.collectives;
  void *data = buffer.data;
  int bytes = static_cast<int>(buffer.bytes);
  job->run = [data, bytes, root, comm] { return MPI_Bcast(data, bytes, MPI_BYTE, root, comm);
  };
  return collectiveThread->submit(info.Env(), std::move(job));
}

/** allreduceSum(buffer): every rank's buffer becomes the element-wise sum over the ranks, in place. */
Napi::Value AllreduceSum(const Napi::CallbackInfo &info) {
  requireInitialized();
  BufferArg buffer = bufferArg(info, 0, true);
  announceArrival();
  auto job = std::make_unique<Job>(info.Env(), "allreduceSum", "MPI_Allreduce");
  job->keep = Napi::Persistent(buffer.object);
  MPI_Comm comm = state.collectives;
  void *data = buffer.data;
  int elements = static_cast<int>(buffer.elements);
  MPI_Datatype type = buffer.type;
  job->run = [data, elements, type, comm] {
    return MPI_Allreduce(MPI_IN_PLACE, data, elements, type, MPI_SUM, comm);
  };
  return collectiveThread->submit(info.Env(), std::move(job));
}

/** barrier(): resolves when every rank reached it. */
Napi::Value Barrier(const Napi::CallbackInfo &info) {
  requireInitialized();
  announceArrival();
  auto job = std::make_unique<Job>(info.Env(), "barrier", "MPI_Barrier");
  MPI_Comm comm = state.collectives;
  job->run = [comm] { return MPI_Barrier(comm); };
  return collectiveThread->submit(info.Env(), std::move(job));
}

/** arrivals(): per rank, the number of the last collective it was seen to reach (-1: not tracked here). */
Napi::Value Arrivals(const Napi::CallbackInfo &info) {
  requireInitialized();
  drainArrivals();
  Napi::Array out = Napi::Array::New(info.Env(), state.size);
  for (int r = 0; r < state.size; r++) out.Set(r, state.seen[r]);
  return out;
}

/** abort(code): MPI_Abort on the world; every rank of the job ends. */
Napi::Value Abort(const Napi::CallbackInfo &info) {
  int code = intArg(info, 0);
  if (!state.initialized || state.finalized) throw Failure("MPI is not running");
  MPI_Abort(MPI_COMM_WORLD, code);
  return info.Env().Undefined();
}

/** finalize(): the collective thread stops, then MPI_Finalize (after every rank's last collective). */
Napi::Value Finalize(const Napi::CallbackInfo &info) {
  if (!state.initialized || state.finalized) return info.Env().Undefined();
  if (collectiveThread->pending() > 0) throw Failure("collectives are still running");
  collectiveThread->stop(info.Env());
  // Notes still in flight are cancelled: a peer that already finished does not read them.
  for (auto &request : state.receives) {
    if (request != MPI_REQUEST_NULL) {
      MPI_Cancel(&request);
      MPI_Request_free(&request);
    }
  }
  for (auto &send : state.sends) MPI_Request_free(&send.request);
  state.sends.clear();
  MPI_Comm_free(&state.collectives);
  MPI_Comm_free(&state.arrivals);
  MPI_Comm_free(&state.local);
  state.finalized = true;
  check("MPI_Finalize", MPI_Finalize());
  return info.Env().Undefined();
}

const std::vector<Function> kFunctions = {
    {"init", {}, Init},
    {"broadcast", {"buffer:buffer", "root:int"}, Broadcast},
    {"allreduceSum", {"buffer:float"}, AllreduceSum},
    {"barrier", {}, Barrier},
    {"arrivals", {}, Arrivals},
    {"abort", {"code:int"}, Abort},
    {"finalize", {}, Finalize},
};

/** Checks the argument count, runs the function, and names it (and the argument) in every error. */
Napi::Value callGuarded(const Napi::CallbackInfo &info) {
  const auto *function = static_cast<const Function *>(info.Data());
  std::string prefix = std::string("mpi.") + function->name + ": ";
  if (info.Length() != function->args.size()) {
    throw Napi::TypeError::New(info.Env(), prefix + "expected " + std::to_string(function->args.size()) +
                                               " arguments, got " + std::to_string(info.Length()));
  }
  for (size_t i = 0; i < function->args.size(); i++) {
    const std::string kind = argKind(function->args[i]);
    Napi::Value value = info[i];
    bool ok = kind == "int" || kind == "number" ? value.IsNumber() : value.IsTypedArray();
    if (ok && kind == "float") {
      auto type = value.As<Napi::TypedArray>().TypedArrayType();
      ok = type == napi_float32_array || type == napi_float64_array;
    }
    if (!ok) {
      throw Napi::TypeError::New(info.Env(), prefix + "argument " + std::to_string(i) + " (" +
                                                 argName(function->args[i]) + ") must be " +
                                                 (kind == "float" ? "a Float32Array or Float64Array"
                                                  : kind == "buffer" ? "a typed array"
                                                                     : "a number"));
    }
  }
  try {
    return function->call(info);
  } catch (const Napi::Error &) {
    throw;
  } catch (const std::exception &e) {
    throw Napi::Error::New(info.Env(), prefix + e.what());
  }
}

std::string libraryVersion() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string s(text, length);
  auto end = s.find_first_of("\n,");
  return s.substr(0, end);
}

}  // namespace

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  Napi::Object layouts = Napi::Object::New(env);
  for (const auto &function : kFunctions) {
    exports.Set(function.name, Napi::Function::New(env, callGuarded, function.name,
                                                   const_cast<Function *>(&function)));
    Napi::Array args = Napi::Array::New(env, function.args.size());
    for (size_t i = 0; i < function.args.size(); i++) args.Set(i, function.args[i]);
    layouts.Set(function.name, args);
  }
  exports.Set("layouts", layouts);
  exports.Set("mpiLibrary", libraryVersion());
  int version = 0, subversion = 0;
  MPI_Get_version(&version, &subversion);
  exports.Set("mpiStandard", std::to_string(version) + "." + std::to_string(subversion));
  return exports;
}

NODE_API_MODULE(inception_mpi, InitAddon)
