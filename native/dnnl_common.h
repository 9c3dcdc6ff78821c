// The plumbing every native kernel shares: one oneDNN engine and stream, tfjs Float32Array storage seen
// in place as oneDNN memory, reorders into the layouts primitives prefer, primitive and weight caches, and
// the registry through which each kernel file exports its functions. Kernel files include only this.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

namespace inception {

using dnnl::memory;
using Tag = memory::format_tag;
using Dims = memory::dims;
using Args = std::unordered_map<int, memory>;
constexpr memory::data_type kF32 = memory::data_type::f32;

dnnl::engine &cpuEngine();
/** oneDNN's name for an instruction set (avx2, avx512_core_bf16, ...), as `cpuIsa` reports it. */
std::string cpuIsaName(dnnl_cpu_isa_t isa);

// ---- Arguments from JS. Typed arrays are tfjs storage: valid only during the current call, never kept.

/** A Float32Array argument, viewed in place (no copy). */
struct F32Array {
  float *data;
  size_t length;
};
F32Array f32Arg(const Napi::CallbackInfo &info, size_t index);
/** A Float32Array argument that must hold exactly `elements` values (what userMemory checks for descs). */
F32Array f32Arg(const Napi::CallbackInfo &info, size_t index, int64_t elements);
bool isNullArg(const Napi::CallbackInfo &info, size_t index);
int64_t intArg(const Napi::CallbackInfo &info, size_t index);
/** An Int32Array or an array of numbers. */
std::vector<int64_t> intsArg(const Napi::CallbackInfo &info, size_t index);

/**
 * The geometry of a 2-D sliding window (convolution or pooling), NHWC, in the order that
 * src/backend/window.ts packs it from tfjs's Conv2DInfo.
 */
struct Window2D {
  int64_t batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, dilationH, dilationW, padTop,
      padLeft, padBottom, padRight;
  Dims src() const { return {batch, inC, inH, inW}; }
  Dims dst() const { return {batch, outC, outH, outW}; }
  Dims weights() const { return {outC, inC, kH, kW}; }
  Dims kernel() const { return {kH, kW}; }
  Dims strides() const { return {strideH, strideW}; }
  /** oneDNN counts dilation from 0 (no gap); tfjs from 1. */
  Dims dilates() const { return {dilationH - 1, dilationW - 1}; }
  Dims padL() const { return {padTop, padLeft}; }
  Dims padR() const { return {padBottom, padRight}; }
  std::vector<int64_t> key() const;
};
Window2D windowArg(const Napi::CallbackInfo &info, size_t index);

// ---- Memory.

/** tfjs storage as oneDNN memory with a plain user layout (e.g. nhwc, hwio); checks the element count. */
memory userMemory(const F32Array &array, const Dims &dims, Tag tag);
memory userMemory(const F32Array &array, const memory::desc &desc);

/**
 * Scratch buffers reused across calls, one per role, so large activations are not allocated and
 * page-faulted on every call. Two memories in one call must use different slots.
 */
enum class Slot { Src, Weights, Bias, Dst, DiffSrc, DiffDst, DiffWeights, Workspace, Extra, Count };
memory scratchMemory(const memory::desc &desc, Slot slot);

/** The primitive's view of an input: the user memory itself when layouts agree, else a reordered copy. */
memory inputFor(const memory &user, const memory::desc &want, Slot slot);

/**
 * Weights in the layout a primitive wants, reordered once and cached under the tfjs tensor's id (and its
 * storage address) until releaseTensor(id) is called from the backend's disposeData.
 */
memory weightsFor(int64_t tensorId, const memory &user, const memory::desc &want);
void releaseTensor(int64_t tensorId);

/** The primitive's view of an output; commit() reorders it into the user memory when layouts differ. */
class OutputFor {
 public:
  OutputFor(const memory &user, const memory::desc &want, Slot slot);
  const memory &mem() const { return staged_; }
  void commit();

 private:
  memory user_, staged_;
};

void reorder(const memory &from, const memory &to);
/** Runs a primitive to completion on the shared stream. */
void execute(const dnnl::primitive &primitive, const Args &args);

// ---- Compute precision (native/precision.cc).

/**
 * The data type convolutions and matrix products take their inputs in: f32, or bf16 (set by
 * setComputePrecision; outputs stay f32). Primitive cache keys include it.
 */
memory::data_type computeType();

// ---- Matrix multiplication (native/matmul.cc), shared by MatMul and the pointwise convolutions.

/** out = relu?(a·b + bias), a [batchA, m, k], b [batchB, k, n]; a batch of 1 broadcasts. */
struct GemmShape {
  int64_t batchA, batchB, m, k, n;
  /** An operand stored transposed ([batch, k, m] for a, [batch, n, k] for b): described by strides, not copied. */
  bool transposeA, transposeB;
  bool relu;
};
/** Runs GemmShape's product on plain row-major arrays of the right sizes; bias ([n]) may be null. */
void gemm(const GemmShape &shape, float *a, float *b, float *bias, float *out);

// ---- Reductions (native/reduce.cc), shared by Sum/Mean and the bias gradient of single-tap convolutions.

/** out[o, i] = scale * sum over r of x[o, r, i], x seen as [outer, reduce, inner]; sums in double. */
void reduceMiddle(const float *x, float *out, int64_t outer, int64_t reduce, int64_t inner, double scale);

// ---- Caches.

using Key = std::vector<int64_t>;
struct KeyHash {
  size_t operator()(const Key &key) const;
};

/**
 * Primitives (descriptor + compiled kernel) keyed by shapes and parameters. Bounded: a workload that
 * keeps changing shapes starts over rather than growing without limit.
 */
template <class Entry>
class PrimitiveCache {
 public:
  template <class Make>
  Entry &get(const Key &key, Make make) {
    auto found = entries_.find(key);
    if (found != entries_.end()) return *found->second;
    if (entries_.size() >= kCapacity) entries_.clear();
    return *entries_.emplace(key, std::make_unique<Entry>(make())).first->second;
  }

 private:
  static constexpr size_t kCapacity = 2048;
  std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash> entries_;
};

/** A primitive with the descriptor it was made from (for memory descs and backward hints). */
template <class Primitive>
struct Compiled {
  typename Primitive::primitive_desc pd;
  Primitive primitive;
  explicit Compiled(const typename Primitive::primitive_desc &desc) : pd(desc), primitive(desc) {}
};

// ---- Registration: each kernel file exports its functions with INCEPTION_EXPORT, addon.cc collects them.

using NativeFunction = Napi::Value (*)(const Napi::CallbackInfo &);
std::vector<std::pair<const char *, NativeFunction>> &nativeExports();
struct NativeExport {
  NativeExport(const char *name, NativeFunction function) { nativeExports().emplace_back(name, function); }
};
#define INCEPTION_CONCAT_(a, b) a##b
#define INCEPTION_CONCAT(a, b) INCEPTION_CONCAT_(a, b)
#define INCEPTION_EXPORT(jsName, ...) \
  static const ::inception::NativeExport INCEPTION_CONCAT(nativeExport_, __LINE__)(jsName, __VA_ARGS__)

}  // namespace inception
