// Batch normalisation with given statistics (tfjs's FusedBatchNorm: inference, and the normalisation step of
// training, where tfjs-layers computes the batch moments with Mean/Sub/Square first):
// y = offset + (x - mean) * scale / sqrt(variance + epsilon), per channel of an NHWC tensor. The per-channel
// factor scale / sqrt(variance + epsilon) is computed once in double; the pass over x is then elementary.
#pragma GCC optimize("fp-contract=off")

#include <cmath>
#include <vector>

#include "dnnl_common.h"

namespace inception {
namespace {

/** A per-channel parameter: `channels` values, or one value for all (a scalar), or `fallback` when null. */
std::vector<double> channelParam(const Napi::CallbackInfo &info, size_t index, int64_t channels, double fallback) {
  std::vector<double> values(channels, fallback);
  if (isNullArg(info, index)) return values;
  const F32Array a = f32Arg(info, index);
  if (a.length != 1 && static_cast<int64_t>(a.length) != channels) {
    throw std::runtime_error("batchNorm: a parameter has neither 1 nor `channels` values");
  }
  for (int64_t c = 0; c < channels; c++) values[c] = a.data[a.length == 1 ? 0 : c];
  return values;
}

/** batchNorm(x, mean, variance, offset | null, scale | null, out, channels, epsilon). */
Napi::Value BatchNorm(const Napi::CallbackInfo &info) {
  const F32Array x = f32Arg(info, 0), out = f32Arg(info, 5);
  const int64_t channels = intArg(info, 6);
  const double epsilon = info[7].As<Napi::Number>().DoubleValue();
  if (channels <= 0 || x.length % channels != 0 || out.length != x.length) {
    throw std::runtime_error("batchNorm: sizes do not match");
  }
  const std::vector<double> mean = channelParam(info, 1, channels, 0), variance = channelParam(info, 2, channels, 0),
                            offset = channelParam(info, 3, channels, 0), scale = channelParam(info, 4, channels, 1);
  // (x - mean) first, as tfjs: folding the mean into the offset would cancel badly when |mean| >> std.
  std::vector<float> centre(channels), factor(channels), shift(channels);
  for (int64_t c = 0; c < channels; c++) {
    centre[c] = static_cast<float>(mean[c]);
    factor[c] = static_cast<float>(scale[c] / std::sqrt(variance[c] + epsilon));
    shift[c] = static_cast<float>(offset[c]);
  }
  const int64_t pixels = static_cast<int64_t>(x.length) / channels;
  const float *m = centre.data(), *f = factor.data(), *s = shift.data();
#pragma omp parallel for schedule(static) if (x.length >= (1 << 15))
  for (int64_t p = 0; p < pixels; p++) {
    const float *xp = x.data + p * channels;
    float *yp = out.data + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) yp[c] = (xp[c] - m[c]) * f[c] + s[c];
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("batchNorm", BatchNorm);

}  // namespace
}  // namespace inception
