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
}  // namespace

void gemm(const GemmShape &s, float *a, float *b, float *bias, float *out) {
  const memory::desc aDesc = operand(s.batchA, s.m, s.k, s.transposeA), bDesc = operand(s.batchB, s.k, s.n, s.transposeB);
  const memory::desc outDesc({std::max(s.batchA, s.batchB), s.m, s.n}, kF32, Tag::abc);
  const memory::desc biasDesc({1, 1, s.n}, kF32, Tag::abc);
  const bool hasBias = bias != nullptr;
  static PrimitiveCache<Matmul> cache;
  Matmul &mm = cache.get({s.batchA, s.batchB, s.m, s.k, s.n, s.transposeA, s.transposeB, hasBias, s.relu}, [&] {
    dnnl::primitive_attr attr;
    if (s.relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    return Matmul(dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(aDesc, bDesc, hasBias ? biasDesc : memory::desc(), outDesc), attr, cpuEngine()));
  });
  Args args{{DNNL_ARG_SRC, memory(aDesc, cpuEngine(), a)},
            {DNNL_ARG_WEIGHTS, memory(bDesc, cpuEngine(), b)},
            {DNNL_ARG_DST, memory(outDesc, cpuEngine(), out)}};
  if (hasBias) args[DNNL_ARG_BIAS] = memory(biasDesc, cpuEngine(), bias);
  execute(mm.primitive, args);
}

namespace {

/** matmul(a, b, bias | null, out, [batchA, batchB, m, k, n], transposeA, transposeB, relu). */
Napi::Value MatMul(const Napi::CallbackInfo &info) {
  const std::vector<int64_t> d = intsArg(info, 4);
  if (d.size() != 5) throw Napi::TypeError::New(info.Env(), "matmul dims must be [batchA, batchB, m, k, n]");
  const GemmShape s{d[0], d[1], d[2], d[3], d[4], intArg(info, 5) != 0, intArg(info, 6) != 0, intArg(info, 7) != 0};
  const F32Array a = f32Arg(info, 0, s.batchA * s.m * s.k), b = f32Arg(info, 1, s.batchB * s.k * s.n),
                 out = f32Arg(info, 3, std::max(s.batchA, s.batchB) * s.m * s.n);
  float *bias = isNullArg(info, 2) ? nullptr : f32Arg(info, 2, s.n).data;
  gemm(s, a.data, b.data, bias, out.data);
  return info.Env().Undefined();
}
INCEPTION_EXPORT("matmul", MatMul);

}  // namespace
}  // namespace inception
