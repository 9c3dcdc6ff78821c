// Fused optimizer updates: one pass over a variable, its gradient and its optimizer state, instead of the
// ten or so whole-array tfjs kernels (each allocating a new array) that Adam, RMSprop and momentum cost in JS.
// The math is tfjs's, operation for operation in float32 and in the same order (so no FMA contraction: see
// the pragma), so a fused step gives the same weights as tfjs's optimizers up to the last bit.
// Outputs may alias inputs (the backend updates a variable's storage in place when nothing else shares it).
#pragma GCC optimize("fp-contract=off")

#include <cmath>

#include "dnnl_common.h"

namespace inception {
namespace {

/** Below this many elements one thread does it: starting a parallel region costs more than it saves. */
constexpr int64_t kParallelMin = 1 << 15;

/** The coefficients argument: a Float32Array of float32 scalars, already rounded as tfjs rounds them. */
std::vector<float> coefficientsArg(const Napi::CallbackInfo &info, size_t index, size_t count) {
  F32Array c = f32Arg(info, index);
  if (c.length != count) throw std::runtime_error("expected " + std::to_string(count) + " coefficients");
  return std::vector<float>(c.data, c.data + count);
}

/** The arrays of one update, all of one length (checked), in argument order. */
std::vector<float *> sameLengthArgs(const Napi::CallbackInfo &info, size_t first, size_t count, int64_t &length) {
  std::vector<float *> arrays;
  for (size_t i = first; i < first + count; i++) {
    F32Array a = f32Arg(info, i);
    if (i == first) length = static_cast<int64_t>(a.length);
    if (static_cast<int64_t>(a.length) != length) throw std::runtime_error("update arrays differ in length");
    arrays.push_back(a.data);
  }
  return arrays;
}

/**
 * adamUpdate(x, g, m, v, xOut, mOut, vOut, [beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta1^t, 1 - beta2^t,
 * epsilon, -lr]), as tfjs's AdamOptimizer: m' = m b1 + g (1 - b1); v' = v b2 + g^2 (1 - b2);
 * x' = (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps) * -lr + x.
 */
Napi::Value AdamUpdate(const Napi::CallbackInfo &info) {
  int64_t n = 0;
  const auto a = sameLengthArgs(info, 0, 7, n);
  const auto c = coefficientsArg(info, 7, 8);
  const float *x = a[0], *g = a[1], *m = a[2], *v = a[3];
  float *xOut = a[4], *mOut = a[5], *vOut = a[6];
  const float b1 = c[0], oneMinusB1 = c[1], b2 = c[2], oneMinusB2 = c[3], oneMinusAccB1 = c[4],
              oneMinusAccB2 = c[5], eps = c[6], negLr = c[7];
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * oneMinusB1;
    const float vi = v[i] * b2 + (gi * gi) * oneMinusB2;
    const float mHat = mi / oneMinusAccB1;
    const float vHat = vi / oneMinusAccB2;
    mOut[i] = mi;
    vOut[i] = vi;
    xOut[i] = (mHat / (std::sqrt(vHat) + eps)) * negLr + x[i];
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("adamUpdate", AdamUpdate);

/**
 * rmsPropUpdate(x, g, ms, mom, mg | null, xOut, msOut, momOut, mgOut | null, [decay, 1 - decay, momentum,
 * epsilon, lr]), as tfjs's RMSPropOptimizer: ms' = ms decay + g^2 (1 - decay); centered (mg given):
 * mg' = mg decay + g (1 - decay), mom' = mom momentum + g lr / sqrt(ms' - (mg'^2 + eps)); else
 * mom' = mom momentum + g lr / sqrt(ms' + eps); x' = x - mom'.
 */
Napi::Value RmsPropUpdate(const Napi::CallbackInfo &info) {
  int64_t n = 0;
  const bool centered = !isNullArg(info, 4);
  const auto in = sameLengthArgs(info, 0, centered ? 5 : 4, n);
  int64_t outLength = 0;
  const auto out = sameLengthArgs(info, 5, centered ? 4 : 3, outLength);
  if (outLength != n) throw std::runtime_error("update arrays differ in length");
  const auto c = coefficientsArg(info, 9, 5);
  const float *x = in[0], *g = in[1], *ms = in[2], *mom = in[3];
  float *xOut = out[0], *msOut = out[1], *momOut = out[2];
  const float decay = c[0], oneMinusDecay = c[1], momentum = c[2], eps = c[3], lr = c[4];
  if (centered) {
    const float *mg = in[4];
    float *mgOut = out[3];
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const float gi = g[i];
      const float msi = ms[i] * decay + (gi * gi) * oneMinusDecay;
      const float mgi = mg[i] * decay + gi * oneMinusDecay;
      const float momi = mom[i] * momentum + (gi * lr) / std::sqrt(msi - (mgi * mgi + eps));
      msOut[i] = msi;
      mgOut[i] = mgi;
      momOut[i] = momi;
      xOut[i] = x[i] - momi;
    }
  } else {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const float gi = g[i];
      const float msi = ms[i] * decay + (gi * gi) * oneMinusDecay;
      const float momi = mom[i] * momentum + (gi * lr) / std::sqrt(msi + eps);
      msOut[i] = msi;
      momOut[i] = momi;
      xOut[i] = x[i] - momi;
    }
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("rmsPropUpdate", RmsPropUpdate);

/**
 * momentumUpdate(x, g, acc, xOut, accOut, [momentum, -lr], nesterov), as tfjs's MomentumOptimizer:
 * acc' = momentum acc + g; x' = -lr acc' + x, or with Nesterov x' = -lr (g + acc' momentum) + x.
 */
Napi::Value MomentumUpdate(const Napi::CallbackInfo &info) {
  int64_t n = 0;
  const auto a = sameLengthArgs(info, 0, 5, n);
  const auto c = coefficientsArg(info, 5, 2);
  const bool nesterov = intArg(info, 6) != 0;
  const float *x = a[0], *g = a[1], *acc = a[2];
  float *xOut = a[3], *accOut = a[4];
  const float momentum = c[0], negLr = c[1];
  if (nesterov) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const float acci = momentum * acc[i] + g[i];
      accOut[i] = acci;
      xOut[i] = negLr * (g[i] + acci * momentum) + x[i];
    }
  } else {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const float acci = momentum * acc[i] + g[i];
      accOut[i] = acci;
      xOut[i] = negLr * acci + x[i];
    }
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("momentumUpdate", MomentumUpdate);

}  // namespace
}  // namespace inception
