// Batched matrix multiplication, optionally with a bias row and ReLU fused (tfjs's _FusedMatMul). Transposed
// operands are described by strides, so nothing is copied; a batch of 1 broadcasts against the other side.
#include "dnnl_common.h"

namespace inception {
namespace {

using Matmul = Compiled<dnnl::matmul>;

/** A [batch, rows, cols] operand stored as [batch, cols, rows] when transposed. */
memory::desc operand(int64_t batch, int64_t rows, int64_t cols, bool transposed) {
  return memory::desc({batch, rows, cols}, kF32,
                      transposed ? Dims{rows * cols, 1, rows} : Dims{rows * cols, cols, 1});
}

/** matmul(a, b, bias | null, out, [batchA, batchB, m, k, n], transposeA, transposeB, relu). */
Napi::Value MatMul(const Napi::CallbackInfo &info) {
  const std::vector<int64_t> d = intsArg(info, 4);
  if (d.size() != 5) throw Napi::TypeError::New(info.Env(), "matmul dims must be [batchA, batchB, m, k, n]");
  const int64_t batchA = d[0], batchB = d[1], m = d[2], k = d[3], n = d[4];
  const bool transposeA = intArg(info, 5), transposeB = intArg(info, 6), relu = intArg(info, 7);
  const bool hasBias = !isNullArg(info, 2);
  const memory::desc a = operand(batchA, m, k, transposeA), b = operand(batchB, k, n, transposeB);
  const memory::desc out({std::max(batchA, batchB), m, n}, kF32, Tag::abc);
  const memory::desc bias({1, 1, n}, kF32, Tag::abc);
  static PrimitiveCache<Matmul> cache;
  Matmul &mm = cache.get({batchA, batchB, m, k, n, transposeA, transposeB, hasBias, relu}, [&] {
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    return Matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, hasBias ? bias : memory::desc(), out),
                                               attr, cpuEngine()));
  });
  Args args{{DNNL_ARG_SRC, userMemory(f32Arg(info, 0), a)},
            {DNNL_ARG_WEIGHTS, userMemory(f32Arg(info, 1), b)},
            {DNNL_ARG_DST, userMemory(f32Arg(info, 3), out)}};
  if (hasBias) args[DNNL_ARG_BIAS] = userMemory(f32Arg(info, 2), bias);
  execute(mm.primitive, args);
  return info.Env().Undefined();
}
INCEPTION_EXPORT("matmul", MatMul);

}  // namespace
}  // namespace inception
