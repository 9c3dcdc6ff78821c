// Batch normalisation per channel of an NHWC tensor. With given statistics (tfjs's FusedBatchNorm: inference):
// y = offset + (x - mean) * scale / sqrt(variance + epsilon), the per-channel factor computed once in double.
// In training mode (InceptionBatchNormTraining and its gradient), forward and backward in one pass each, where
// tfjs-layers would compute the batch moments and their gradients with a dozen element-wise kernels (Mean, Sub,
// Square, Mul, Tile, ...), each reading and writing the whole activation; sums are accumulated in double per
// thread and combined.
#pragma GCC optimize("fp-contract=off")

#include <omp.h>

#include <cmath>
#include <vector>

#include "dnnl_common.h"

namespace inception {
namespace {

/** y = (x - centre) * factor + shift per channel, over `pixels` rows of `channels` (NHWC). */
void normalize(const float *x, float *y, int64_t pixels, int64_t channels, const float *centre, const float *factor,
               const float *shift) {
#pragma omp parallel for schedule(static) if (pixels * channels >= (1 << 15))
  for (int64_t p = 0; p < pixels; p++) {
    const float *xp = x + p * channels;
    float *yp = y + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) yp[c] = (xp[c] - centre[c]) * factor[c] + shift[c];
  }
}

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
  normalize(x.data, out.data, static_cast<int64_t>(x.length) / channels, channels, centre.data(), factor.data(),
            shift.data());
  return info.Env().Undefined();
}
INCEPTION_EXPORT("batchNorm", BatchNorm);

/**
 * total[k * channels + c] = what `addPixel(p, acc)` adds into acc over all pixels p; parallel over pixels.
 * Each thread sums its static share of pixels into its own partial sums, added up in thread order: the same
 * thread count gives bit-identical results run to run (adding the partials as threads finish would not).
 */
template <class AddPixel>
std::vector<double> channelSums(int64_t pixels, int64_t channels, int perChannel, AddPixel addPixel) {
  const size_t results = static_cast<size_t>(perChannel * channels);
  const bool parallel = pixels * channels >= (1 << 15);
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<double> partial(static_cast<size_t>(threads) * results, 0.0);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    double *mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * results;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < pixels; p++) addPixel(p, mine);
  }
  std::vector<double> total(results, 0.0);
  for (int t = 0; t < threads; t++) {
    for (size_t i = 0; i < results; i++) total[i] += partial[static_cast<size_t>(t) * results + i];
  }
  return total;
}

/** The element count and channel count of an NHWC tensor, checked. */
int64_t pixelsOf(const F32Array &x, int64_t channels) {
  if (channels <= 0 || x.length == 0 || x.length % channels != 0) {
    throw std::runtime_error("batchNormTraining: the tensor's size is not a multiple of its channels");
  }
  return static_cast<int64_t>(x.length) / channels;
}

F32Array channelArg(const Napi::CallbackInfo &info, size_t index, int64_t channels) {
  const F32Array a = f32Arg(info, index);
  if (static_cast<int64_t>(a.length) != channels) {
    throw std::runtime_error("batchNormTraining: a per-channel argument does not have `channels` values");
  }
  return a;
}

/**
 * batchNormTraining(x, scale, offset, y, mean, variance, channels, epsilon): mean and (biased) variance of
 * x over every axis but the last, then y = (x - mean) * scale / sqrt(variance + epsilon) + offset.
 */
Napi::Value BatchNormTraining(const Napi::CallbackInfo &info) {
  const int64_t channels = intArg(info, 6);
  const double epsilon = info[7].As<Napi::Number>().DoubleValue();
  const F32Array x = f32Arg(info, 0), y = f32Arg(info, 3);
  const F32Array scale = channelArg(info, 1, channels), offset = channelArg(info, 2, channels),
                 meanOut = channelArg(info, 4, channels), varianceOut = channelArg(info, 5, channels);
  const int64_t pixels = pixelsOf(x, channels);
  if (y.length != x.length) throw std::runtime_error("batchNormTraining: output size differs from input");
  const float *xs = x.data;
  const std::vector<double> sums = channelSums(pixels, channels, 1, [&](int64_t p, double *acc) {
    const float *xp = xs + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) acc[c] += xp[c];
  });
  std::vector<float> mean(channels);
  for (int64_t c = 0; c < channels; c++) mean[c] = static_cast<float>(sums[c] / pixels);
  const float *m = mean.data();
  // Two passes (mean, then squared deviations): one-pass E[x^2] - E[x]^2 cancels badly.
  const std::vector<double> squares = channelSums(pixels, channels, 1, [&](int64_t p, double *acc) {
    const float *xp = xs + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) {
      const double d = static_cast<double>(xp[c]) - m[c];
      acc[c] += d * d;
    }
  });
  std::vector<float> factor(channels);
  for (int64_t c = 0; c < channels; c++) {
    const double variance = squares[c] / pixels;
    meanOut.data[c] = mean[c];
    varianceOut.data[c] = static_cast<float>(variance);
    factor[c] = static_cast<float>(scale.data[c] / std::sqrt(variance + epsilon));
  }
  normalize(xs, y.data, pixels, channels, m, factor.data(), offset.data);
  return info.Env().Undefined();
}
INCEPTION_EXPORT("batchNormTraining", BatchNormTraining);

/**
 * batchNormTrainingGrad(dy, x, scale, mean, variance, dx, dScale, dOffset, channels, epsilon): the gradient
 * of the forward above through the batch statistics too. With n pixels, s = 1/sqrt(variance + epsilon),
 * x̂ = (x - mean) s: dOffset = Σ dy, dScale = Σ dy x̂, dx = scale s (dy - dOffset/n - x̂ dScale/n).
 */
Napi::Value BatchNormTrainingGrad(const Napi::CallbackInfo &info) {
  const int64_t channels = intArg(info, 8);
  const double epsilon = info[9].As<Napi::Number>().DoubleValue();
  const F32Array dy = f32Arg(info, 0), x = f32Arg(info, 1), dx = f32Arg(info, 5);
  const F32Array scale = channelArg(info, 2, channels), mean = channelArg(info, 3, channels),
                 variance = channelArg(info, 4, channels), dScale = channelArg(info, 6, channels),
                 dOffset = channelArg(info, 7, channels);
  const int64_t pixels = pixelsOf(x, channels);
  if (dy.length != x.length || dx.length != x.length) {
    throw std::runtime_error("batchNormTrainingGrad: dy, x and dx differ in size");
  }
  const float *xs = x.data, *dys = dy.data, *m = mean.data;
  const std::vector<double> sums = channelSums(pixels, channels, 2, [&](int64_t p, double *acc) {
    const float *xp = xs + p * channels, *dyp = dys + p * channels;
    double *sumDy = acc, *sumDyX = acc + channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) {
      sumDy[c] += dyp[c];
      sumDyX[c] += static_cast<double>(dyp[c]) * (static_cast<double>(xp[c]) - m[c]);
    }
  });
  // dx = a dy + b (x - mean) + d, per channel.
  std::vector<float> a(channels), b(channels), d(channels);
  for (int64_t c = 0; c < channels; c++) {
    const double s = 1 / std::sqrt(static_cast<double>(variance.data[c]) + epsilon);
    const double sumDy = sums[c], sumDyXhat = sums[channels + c] * s;
    dOffset.data[c] = static_cast<float>(sumDy);
    dScale.data[c] = static_cast<float>(sumDyXhat);
    const double gs = scale.data[c] * s;
    a[c] = static_cast<float>(gs);
    b[c] = static_cast<float>(-gs * s * sumDyXhat / pixels);
    d[c] = static_cast<float>(-gs * sumDy / pixels);
  }
  const float *pa = a.data(), *pb = b.data(), *pd = d.data();
#pragma omp parallel for schedule(static) if (x.length >= (1 << 15))
  for (int64_t p = 0; p < pixels; p++) {
    const float *xp = xs + p * channels, *dyp = dys + p * channels;
    float *dxp = dx.data + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) dxp[c] = pa[c] * dyp[c] + pb[c] * (xp[c] - m[c]) + pd[c];
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("batchNormTrainingGrad", BatchNormTrainingGrad);

}  // namespace
}  // namespace inception
