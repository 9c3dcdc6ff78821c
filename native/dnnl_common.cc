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

/** f32 -> bf16, rounding to nearest even as oneDNN's reorders do; NaN stays NaN (quiet). Branch-free. */
static inline uint16_t toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>(nan ? (bits >> 16) | 0x40u : rounded);
}

static void convertToBf16(const float *from, uint16_t *to, int64_t count) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < count; i++) to[i] = toBf16(from[i]);
}

/**
 * Where each index of each dimension lands in a blocked layout, in elements: a blocked offset is the sum over
 * dimensions of a function of that dimension's index alone (its outer block times the stride, plus its place
 * in each inner block), so a table per dimension gives any element's offset by additions.
 */
static std::vector<std::vector<int64_t>> offsetTables(const dnnl_memory_desc_t &md) {
  const dnnl_blocking_desc_t &blocking = md.format_desc.blocking;
  // The stride of each inner block: the product of the blocks inside it.
  std::vector<int64_t> innerStride(blocking.inner_nblks);
  int64_t stride = 1;
  for (int b = blocking.inner_nblks - 1; b >= 0; b--) {
    innerStride[b] = stride;
    stride *= blocking.inner_blks[b];
  }
  std::vector<std::vector<int64_t>> tables(md.ndims);
  for (int d = 0; d < md.ndims; d++) {
    tables[d].resize(md.dims[d]);
    for (int64_t i = 0; i < md.dims[d]; i++) {
      int64_t rest = i, offset = 0;
      for (int b = blocking.inner_nblks - 1; b >= 0; b--) {  // innermost block first
        if (blocking.inner_idxs[b] != d) continue;
        offset += rest % blocking.inner_blks[b] * innerStride[b];
        rest /= blocking.inner_blks[b];
      }
      tables[d][i] = offset + rest * blocking.strides[d];
    }
  }
  return tables;
}

/**
 * f32 in a plain (strided) layout -> bf16 in a blocked one (the filter layouts of bf16 convolutions), with
 * the padding zeroed; false, doing nothing, for layouts it does not handle. oneDNN 2.6's reorders between
 * these run at ~0.15 G elements/s (measured at 224 batch 8, every step as the weights change).
 */
static bool convertToBlockedBf16(const memory &from, const memory &to) {
  const dnnl_memory_desc_t &src = from.get_desc().data, &dst = to.get_desc().data;
  if (src.ndims != 4 || dst.ndims != 4 || src.format_kind != dnnl_blocked || dst.format_kind != dnnl_blocked ||
      src.format_desc.blocking.inner_nblks != 0 || dst.extra.flags != 0) {
    return false;
  }
  const auto tables = offsetTables(dst);
  const dnnl_dims_t &srcStrides = src.format_desc.blocking.strides;
  const float *in = static_cast<const float *>(from.get_data_handle()) + src.offset0;
  uint16_t *out = static_cast<uint16_t *>(to.get_data_handle());
  std::memset(out, 0, to.get_desc().get_size());
  out += dst.offset0;
  const int64_t d0 = src.dims[0], d1 = src.dims[1], d2 = src.dims[2], d3 = src.dims[3];
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t i0 = 0; i0 < d0; i0++) {
    for (int64_t i1 = 0; i1 < d1; i1++) {
      for (int64_t i2 = 0; i2 < d2; i2++) {
        const float *row = in + i0 * srcStrides[0] + i1 * srcStrides[1] + i2 * srcStrides[2];
        uint16_t *base = out + tables[0][i0] + tables[1][i1] + tables[2][i2];
        for (int64_t i3 = 0; i3 < d3; i3++) base[tables[3][i3]] = toBf16(row[i3 * srcStrides[3]]);
      }
    }
  }
  return true;
}

/** `user` in `to`'s layout and type. */
static void stage(const memory &user, const memory &to) {
  const memory::desc &want = to.get_desc();
  if (user.get_desc().data_type() != kF32 || want.data_type() != memory::data_type::bf16) return reorder(user, to);
  memory::desc asBf16 = user.get_desc();
  asBf16.data.data_type = dnnl_bf16;
  // oneDNN 2.6's f32 -> bf16 reorders run at 0.15-0.6 G elements/s (measured at 224 batch 8); these loops at
  // memory speed.
  if (asBf16 == want) {
    convertToBf16(static_cast<const float *>(user.get_data_handle()), static_cast<uint16_t *>(to.get_data_handle()),
                  static_cast<int64_t>(want.get_size() / sizeof(uint16_t)));
  } else if (!convertToBlockedBf16(user, to)) {
    reorder(user, to);
  }
}

memory inputFor(const memory &user, const memory::desc &want, Slot slot) {
  if (user.get_desc() == want) return user;
  memory staged = scratchMemory(want, slot);
  stage(user, staged);
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
  const size_t floats = (want.get_size() + sizeof(float) - 1) / sizeof(float);  // bf16 weights: half as many
  CachedWeights entry{storage, want, memory(), std::unique_ptr<float[]>(new float[floats])};
  entry.reordered = memory(want, cpuEngine(), entry.buffer.get());
  stage(user, entry.reordered);
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
