// ReLU and the Step function its gradient multiplies by (tfjs: dReLU = dy * step(x)). Plain loops: one
// pass over memory, with NaN passed through as tfjs's cpu kernels do.
#include "dnnl_common.h"

namespace inception {
namespace {

constexpr int64_t kParallelAbove = 1 << 15;

/** relu(x, out). */
Napi::Value Relu(const Napi::CallbackInfo &info) {
  const F32Array x = f32Arg(info, 0), out = f32Arg(info, 1);
  if (x.length != out.length) throw Napi::RangeError::New(info.Env(), "relu: sizes differ");
  const int64_t n = static_cast<int64_t>(x.length);
#pragma omp parallel for simd schedule(static) if (n > kParallelAbove)
  for (int64_t i = 0; i < n; i++) out.data[i] = x.data[i] < 0.f ? 0.f : x.data[i];
  return info.Env().Undefined();
}
INCEPTION_EXPORT("relu", Relu);

/** step(x, out, alpha): 1 where x > 0, alpha elsewhere, NaN for NaN. */
Napi::Value Step(const Napi::CallbackInfo &info) {
  const F32Array x = f32Arg(info, 0), out = f32Arg(info, 1);
  if (x.length != out.length) throw Napi::RangeError::New(info.Env(), "step: sizes differ");
  const float alpha = static_cast<float>(info[2].As<Napi::Number>().DoubleValue());
  const int64_t n = static_cast<int64_t>(x.length);
#pragma omp parallel for simd schedule(static) if (n > kParallelAbove)
  for (int64_t i = 0; i < n; i++) out.data[i] = x.data[i] != x.data[i] ? x.data[i] : (x.data[i] > 0.f ? 1.f : alpha);
  return info.Env().Undefined();
}
INCEPTION_EXPORT("step", Step);

}  // namespace
}  // namespace inception
