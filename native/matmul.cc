// Batched matrix multiplication, optionally with a bias row and ReLU fused (tfjs's _FusedMatMul). Transposed
// operands are described by strides, so nothing is copied in f32; a batch of 1 broadcasts against the other
// side. In bf16 (computeType()) the operands are converted to bf16 and the product is written in f32.
#include "dnnl_common.h"

namespace inception {

namespace {
using Matmul = Compiled<dnnl::matmul>;

/** A [batch, rows, cols] operand stored as [batch, cols, rows] when transposed. */
memory::desc operand(int64_t batch, int64_t rows, int64_t cols, bool transposed, memory::data_type type = kF32) {
  return memory::desc({batch, rows, cols}, type,
                      transposed ? Dims{rows * cols, 1, rows} : Dims{rows * cols, cols, 1});
}
}  // namespace

void gemm(const GemmShape &s, float *a, float *b, float *bias, float *out) {
  const memory::desc aUser = operand(s.batchA, s.m, s.k, s.transposeA);
  const memory::desc bUser = operand(s.batchB, s.k, s.n, s.transposeB);
  const memory::desc outDesc({std::max(s.batchA, s.batchB), s.m, s.n}, kF32, Tag::abc);
  const memory::desc biasDesc({1, 1, s.n}, kF32, Tag::abc);
  const bool hasBias = bias != nullptr;
  // The primitive reads the operands in their own layouts (transposes by strides): in f32 where they are, in
  // bf16 converted element by element.
  const memory::data_type type = computeType();
  const bool f32 = type == kF32;
  static PrimitiveCache<Matmul> cache;
  const Key key{s.batchA,     s.batchB,     s.m,     s.k,    s.n,
                s.transposeA, s.transposeB, hasBias, s.relu, static_cast<int64_t>(type)};
  Matmul &mm = cache.get(key, [&] {
    dnnl::primitive_attr attr;
    if (s.relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    const memory::desc aDesc = f32 ? aUser : operand(s.batchA, s.m, s.k, s.transposeA, type);
    const memory::desc bDesc = f32 ? bUser : operand(s.batchB, s.k, s.n, s.transposeB, type);
    return Matmul(dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(aDesc, bDesc, hasBias ? biasDesc : memory::desc(), outDesc), attr, cpuEngine()));
  });
  Args args{{DNNL_ARG_SRC, inputFor(memory(aUser, cpuEngine(), a), mm.pd.src_desc(), Slot::Src)},
            {DNNL_ARG_WEIGHTS, inputFor(memory(bUser, cpuEngine(), b), mm.pd.weights_desc(), Slot::Weights)},
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
