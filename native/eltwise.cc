// Element-wise kernels on float32 tensors: unary ops (ReLU and the Step that its gradient multiplies by) and
// binary ops with numpy broadcasting (bias adds, gradient accumulation, the ReLU gradient's product or mask). Each is
// one memory-bound pass, OpenMP-parallel and vectorisable; oneDNN's eltwise/binary primitives would add
// primitive creation and layout bookkeeping for no gain here. Results are tfjs's cpu kernels' to the bit:
// the same float32 operations (no FMA contraction).
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <cmath>

#include "dnnl_common.h"

namespace inception {
namespace {

/** Below this many elements one thread does it: a parallel region costs more than it saves. */
constexpr int64_t kParallelMin = 1 << 15;

enum UnaryOp { kRelu = 0, kStep = 1 };

/** unary(op, x, out, alpha): relu (x < 0 ? 0 : x, NaN kept) or step (NaN kept, x > 0 ? 1 : alpha). */
Napi::Value Unary(const Napi::CallbackInfo &info) {
  const auto op = static_cast<UnaryOp>(intArg(info, 0));
  const F32Array x = f32Arg(info, 1), out = f32Arg(info, 2);
  const float alpha = static_cast<float>(info[3].As<Napi::Number>().DoubleValue());
  if (x.length != out.length) throw std::runtime_error("unary: input and output differ in length");
  const int64_t n = static_cast<int64_t>(x.length);
  const float *in = x.data;
  float *y = out.data;
  switch (op) {
    case kRelu:
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; i++) y[i] = in[i] < 0.f ? 0.f : in[i];
      break;
    case kStep:
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; i++) y[i] = in[i] > 0.f ? 1.f : (in[i] != in[i] ? in[i] : alpha);
      break;
    default:
      throw std::runtime_error("unary: unknown op");
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("unary", Unary);

/**
 * kFirst copies a (b unused): broadcasting a tensor to a larger shape, i.e. a Tile along dims of size 1.
 * kReluMask passes a where b > 0 (b is a ReLU's output, a the gradient arriving there), else 0; a NaN in
 * b propagates as tfjs's Step does.
 */
enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kFirst = 4, kReluMask = 5 };

template <BinaryOp op>
inline float apply(float a, float b) {
  if constexpr (op == kAdd) return a + b;
  if constexpr (op == kSub) return a - b;
  if constexpr (op == kMul) return a * b;
  if constexpr (op == kFirst) return a;
  if constexpr (op == kReluMask) return b > 0.f ? a : (b != b ? b : 0.f);
  return a / b;
}

/** Where row `row` (of the innermost dim) starts in a and b: its multi-index over the outer dims, times strides. */
inline void rowOffsets(int64_t row, const std::vector<int64_t> &shape, const std::vector<int64_t> &aStrides,
                       const std::vector<int64_t> &bStrides, int64_t &aRow, int64_t &bRow) {
  aRow = 0;
  bRow = 0;
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; d--) {
    const int64_t index = row % shape[d];
    row /= shape[d];
    aRow += index * aStrides[d];
    bRow += index * bStrides[d];
  }
}

/**
 * out = a op b over `shape` (already collapsed by the caller: adjacent dims with the same broadcast pattern
 * merged), where a and b are read with per-dim element strides (0 along a broadcast dim). Work is split
 * into blocks of the flattened output; each block walks rows of the innermost dim.
 */
template <BinaryOp op>
void broadcastBinary(const float *a, const float *b, float *out, const std::vector<int64_t> &shape,
                     const std::vector<int64_t> &aStrides, const std::vector<int64_t> &bStrides) {
  const int rank = static_cast<int>(shape.size());
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  const int64_t inner = shape[rank - 1], aInner = aStrides[rank - 1], bInner = bStrides[rank - 1];
  if (rank == 1 && aInner == 1 && bInner == 1) {  // same shape: the common case, kept simple for the vectoriser
#pragma omp parallel for simd schedule(static) if (total >= kParallelMin)
    for (int64_t i = 0; i < total; i++) out[i] = apply<op>(a[i], b[i]);
    return;
  }
  constexpr int64_t kBlock = 1 << 14;
  const int64_t blocks = (total + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (total >= kParallelMin)
  for (int64_t block = 0; block < blocks; block++) {
    const int64_t start = block * kBlock, end = std::min(total, start + kBlock);
    int64_t rowIndex = start / inner, col = start % inner, aRow = 0, bRow = 0;
    rowOffsets(rowIndex, shape, aStrides, bStrides, aRow, bRow);
    int64_t e = start;
    while (e < end) {
      const int64_t count = std::min(inner - col, end - e);
      const float *ar = a + aRow + col * aInner;
      const float *br = b + bRow + col * bInner;
      float *o = out + e;
      if (aInner == 1 && bInner == 1) {
#pragma omp simd
        for (int64_t i = 0; i < count; i++) o[i] = apply<op>(ar[i], br[i]);
      } else if (bInner == 0) {
        const float bv = br[0];
#pragma omp simd
        for (int64_t i = 0; i < count; i++) o[i] = apply<op>(ar[i * aInner], bv);
      } else if (aInner == 0) {
        const float av = ar[0];
#pragma omp simd
        for (int64_t i = 0; i < count; i++) o[i] = apply<op>(av, br[i * bInner]);
      } else {
        for (int64_t i = 0; i < count; i++) o[i] = apply<op>(ar[i * aInner], br[i * bInner]);
      }
      e += count;
      col = 0;
      rowOffsets(++rowIndex, shape, aStrides, bStrides, aRow, bRow);
    }
  }
}

/** binary(op, a, b, out, shape, aStrides, bStrides): out = a op b with broadcasting (see broadcastBinary). */
Napi::Value Binary(const Napi::CallbackInfo &info) {
  const auto op = static_cast<BinaryOp>(intArg(info, 0));
  const F32Array a = f32Arg(info, 1), b = f32Arg(info, 2), out = f32Arg(info, 3);
  const std::vector<int64_t> shape = intsArg(info, 4), aStrides = intsArg(info, 5), bStrides = intsArg(info, 6);
  if (shape.empty() || aStrides.size() != shape.size() || bStrides.size() != shape.size()) {
    throw std::runtime_error("binary: shape and strides differ in rank");
  }
  int64_t total = 1, aLast = 0, bLast = 0;
  for (size_t d = 0; d < shape.size(); d++) {
    total *= shape[d];
    aLast += (shape[d] - 1) * aStrides[d];
    bLast += (shape[d] - 1) * bStrides[d];
  }
  if (static_cast<int64_t>(out.length) != total || aLast >= static_cast<int64_t>(a.length) ||
      bLast >= static_cast<int64_t>(b.length)) {
    throw std::runtime_error("binary: shapes do not match the arrays");
  }
  switch (op) {
    case kAdd:
      broadcastBinary<kAdd>(a.data, b.data, out.data, shape, aStrides, bStrides);
      break;
    case kSub:
      broadcastBinary<kSub>(a.data, b.data, out.data, shape, aStrides, bStrides);
      break;
    case kMul:
      broadcastBinary<kMul>(a.data, b.data, out.data, shape, aStrides, bStrides);
      break;
    case kDiv:
      broadcastBinary<kDiv>(a.data, b.data, out.data, shape, aStrides, bStrides);
      break;
    case kFirst:
      broadcastBinary<kFirst>(a.data, b.data, out.data, shape, aStrides, bStrides);
      break;
    case kReluMask:
      broadcastBinary<kReluMask>(a.data, b.data, out.data, shape, aStrides, bStrides);
      break;
    default:
      throw std::runtime_error("binary: unknown op");
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("binary", Binary);

}  // namespace
}  // namespace inception
