// The process-wide compute precision of convolutions and matrix products, as PyTorch's CPU autocast has it:
// fp32, or bf16 inputs (activations, weights, incoming gradients, converted by the reorders that stage them)
// with fp32 outputs and fp32 accumulation, so master weights, gradients and everything outside the
// convolutions and matmuls (normalisation, pooling, element-wise, optimizers, reductions) stay fp32.
#include <string>

#include "dnnl_common.h"

namespace inception {

namespace {
memory::data_type current = kF32;

/** bf16 primitives need AVX512_BF16 (vdpbf16ps) or AMX; ISA values are bit sets, so test the bits. */
bool hasBf16Compute() {
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const unsigned bf16 = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
  return (isa & bf16) == bf16;
}

/** setComputePrecision('fp32' | 'bf16'): throws, changing nothing, on another name or a CPU without bf16. */
Napi::Value SetComputePrecision(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "precision must be a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name == "fp32") {
    current = kF32;
  } else if (name == "bf16") {
    if (!hasBf16Compute()) throw Napi::Error::New(info.Env(), "bf16: this CPU lacks AVX512_BF16 and AMX");
    current = memory::data_type::bf16;
  } else {
    throw Napi::TypeError::New(info.Env(), "precision must be fp32 or bf16, got " + name);
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("setComputePrecision", SetComputePrecision);

Napi::Value ComputePrecision(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), current == kF32 ? "fp32" : "bf16");
}
INCEPTION_EXPORT("computePrecision", ComputePrecision);
}  // namespace

memory::data_type computeType() { return current; }

}  // namespace inception
