#include "dnnl_common.h"

#include <cstring>
#include <string>

namespace inception {

dnnl::engine &cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

static dnnl::stream &cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

// ---- Arguments.

static Napi::Value arg(const Napi::CallbackInfo &info, size_t index) {
  if (index >= info.Length()) throw Napi::TypeError::New(info.Env(), "missing argument " + std::to_string(index));
  return info[index];
}

F32Array f32Arg(const Napi::CallbackInfo &info, size_t index) {
  Napi::Value value = arg(info, index);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " must be a Float32Array");
  }
  auto array = value.As<Napi::Float32Array>();
  return {array.Data(), array.ElementLength()};
}

bool isNullArg(const Napi::CallbackInfo &info, size_t index) {
  return index >= info.Length() || info[index].IsNull() || info[index].IsUndefined();
}

int64_t intArg(const Napi::CallbackInfo &info, size_t index) {
  Napi::Value value = arg(info, index);
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!value.IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " must be a number");
  return value.As<Napi::Number>().Int64Value();
}

std::vector<int64_t> intsArg(const Napi::CallbackInfo &info, size_t index) {
  Napi::Value value = arg(info, index);
  std::vector<int64_t> out;
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto array = value.As<Napi::Int32Array>();
    out.assign(array.Data(), array.Data() + array.ElementLength());
  } else if (value.IsArray()) {
    auto array = value.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) out.push_back(array.Get(i).As<Napi::Number>().Int64Value());
  } else {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " must be an Int32Array or array");
  }
  return out;
}

std::vector<int64_t> Window2D::key() const {
  return {batch,   inH,       inW,       inC,    outH,    outW,     outC,      kH,      kW,
          strideH, strideW,   dilationH, dilationW, padTop, padLeft, padBottom, padRight};
}

Window2D windowArg(const Napi::CallbackInfo &info, size_t index) {
  std::vector<int64_t> v = intsArg(info, index);
  if (v.size() != 17) throw Napi::TypeError::New(info.Env(), "window geometry must have 17 entries");
  return {v[0], v[1], v[2],  v[3],  v[4],  v[5],  v[6],  v[7],  v[8],
          v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16]};
}

// ---- Memory.

static void checkElements(const F32Array &array, size_t elements) {
  if (array.length != elements) {
    throw std::runtime_error("tensor has " + std::to_string(array.length) + " elements, the kernel expects " +
                             std::to_string(elements));
  }
}

F32Array f32Arg(const Napi::CallbackInfo &info, size_t index, int64_t elements) {
  const F32Array array = f32Arg(info, index);
  checkElements(array, static_cast<size_t>(elements));
  return array;
}

memory userMemory(const F32Array &array, const memory::desc &desc) {
  checkElements(array, desc.get_size() / sizeof(float));
  return memory(desc, cpuEngine(), array.data);
}

memory userMemory(const F32Array &array, const Dims &dims, Tag tag) {
  return userMemory(array, memory::desc(dims, kF32, tag));
}

memory scratchMemory(const memory::desc &desc, Slot slot) {
  // Grow-only buffers; 64-byte aligned so vector loads in the primitives never split cache lines.
  struct Buffer {
    std::unique_ptr<float[], void (*)(void *)> data{nullptr, std::free};
    size_t bytes = 0;
  };
  static Buffer buffers[static_cast<int>(Slot::Count)];
  Buffer &buffer = buffers[static_cast<int>(slot)];
  size_t bytes = desc.get_size();
  if (bytes > buffer.bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    buffer.data.reset(static_cast<float *>(std::aligned_alloc(64, rounded)));
    if (!buffer.data) throw std::bad_alloc();
    buffer.bytes = rounded;
  }
  return memory(desc, cpuEngine(), buffer.data.get());
}

void reorder(const memory &from, const memory &to) {
  dnnl::reorder(from, to).execute(cpuStream(), const_cast<memory &>(from), const_cast<memory &>(to));
  cpuStream().wait();
}

memory inputFor(const memory &user, const memory::desc &want, Slot slot) {
  if (user.get_desc() == want) return user;
  memory staged = scratchMemory(want, slot);
  reorder(user, staged);
  return staged;
}

OutputFor::OutputFor(const memory &user, const memory::desc &want, Slot slot)
    : user_(user), staged_(user.get_desc() == want ? user : scratchMemory(want, slot)) {}

void OutputFor::commit() {
  if (staged_.get_data_handle() != user_.get_data_handle()) reorder(staged_, user_);
}

void execute(const dnnl::primitive &primitive, const Args &args) {
  primitive.execute(cpuStream(), args);
  cpuStream().wait();
}

// ---- Weight cache.

namespace {
struct CachedWeights {
  const void *storage;  // the tfjs storage it was made from: a changed address means changed contents
  memory::desc desc;
  memory reordered;
  std::unique_ptr<float[]> buffer;
};
std::unordered_map<int64_t, std::vector<CachedWeights>> &weightCache() {
  static std::unordered_map<int64_t, std::vector<CachedWeights>> cache;
  return cache;
}
}  // namespace

memory weightsFor(int64_t tensorId, const memory &user, const memory::desc &want) {
  if (user.get_desc() == want) return user;
  if (tensorId < 0) return inputFor(user, want, Slot::Weights);
  auto &entries = weightCache()[tensorId];
  const void *storage = user.get_data_handle();
  for (auto &entry : entries) {
    if (entry.storage == storage && entry.desc == want) return entry.reordered;
  }
  CachedWeights entry{storage, want, memory(), std::unique_ptr<float[]>(new float[(want.get_size() + sizeof(float) - 1) / sizeof(float)])};
  entry.reordered = memory(want, cpuEngine(), entry.buffer.get());
  reorder(user, entry.reordered);
  entries.push_back(std::move(entry));
  return entries.back().reordered;
}

void releaseTensor(int64_t tensorId) { weightCache().erase(tensorId); }

static Napi::Value ReleaseTensor(const Napi::CallbackInfo &info) {
  releaseTensor(intArg(info, 0));
  return info.Env().Undefined();
}
INCEPTION_EXPORT("releaseTensor", ReleaseTensor);

size_t KeyHash::operator()(const Key &key) const {
  size_t hash = key.size();
  for (int64_t v : key) hash ^= std::hash<int64_t>()(v) + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  return hash;
}

std::vector<std::pair<const char *, NativeFunction>> &nativeExports() {
  static std::vector<std::pair<const char *, NativeFunction>> exports;
  return exports;
}

}  // namespace inception
