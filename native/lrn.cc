// Local response normalisation across channels (NHWC), forward and backward, with tfjs's semantics exactly:
// y = x * (bias + alpha * sum of x^2 over channels [c - r, c + r] clipped to the tensor)^-beta, alpha applied
// per element (oneDNN's LRN divides alpha by the window size, and its backward wants a workspace that tfjs
// does not keep, so plain loops are simpler here). Each pixel's channel window is a running sum: O(1) per
// element. Sums are in double as tfjs's cpu kernels sum in JS numbers.
#include <cmath>
#include <vector>

#include "dnnl_common.h"

namespace inception {
namespace {

struct LrnParams {
  int64_t pixels, channels, radius;
  double bias, alpha, beta;
};

LrnParams lrnParams(const Napi::CallbackInfo &info, size_t index, size_t length) {
  const std::vector<int64_t> dims = intsArg(info, index);  // [pixels, channels, radius]
  if (dims.size() != 3 || dims[0] * dims[1] != static_cast<int64_t>(length)) {
    throw std::runtime_error("lrn: geometry does not match the tensor");
  }
  auto number = [&](size_t i) { return info[i].As<Napi::Number>().DoubleValue(); };
  return {dims[0], dims[1], dims[2], number(index + 1), number(index + 2), number(index + 3)};
}

/** v^-beta; beta 0.75 (AlexNet's and GoogLeNet's) and 0.5 without pow. */
inline double powNegBeta(double v, double beta) {
  if (beta == 0.75) return 1.0 / (std::sqrt(v) * std::sqrt(std::sqrt(v)));
  if (beta == 0.5) return 1.0 / std::sqrt(v);
  return std::pow(v, -beta);
}

/** norm[c] = bias + alpha * sum of x[k]^2 for k within radius of c (one pixel's channels). */
void windowNorms(const float *x, const LrnParams &p, double *norm) {
  double sum = 0;
  for (int64_t k = 0; k < std::min(p.radius, p.channels); k++) sum += static_cast<double>(x[k]) * x[k];
  for (int64_t c = 0; c < p.channels; c++) {
    if (c + p.radius < p.channels) sum += static_cast<double>(x[c + p.radius]) * x[c + p.radius];
    if (c - p.radius - 1 >= 0) sum -= static_cast<double>(x[c - p.radius - 1]) * x[c - p.radius - 1];
    norm[c] = p.bias + p.alpha * sum;
  }
}

/** lrn(x, out, [pixels, channels, radius], bias, alpha, beta). */
Napi::Value Lrn(const Napi::CallbackInfo &info) {
  const F32Array x = f32Arg(info, 0), out = f32Arg(info, 1);
  const LrnParams p = lrnParams(info, 2, x.length);
  if (out.length != x.length) throw std::runtime_error("lrn: output size differs");
#pragma omp parallel
  {
    std::vector<double> norm(p.channels);
#pragma omp for schedule(static)
    for (int64_t pixel = 0; pixel < p.pixels; pixel++) {
      const float *xp = x.data + pixel * p.channels;
      float *yp = out.data + pixel * p.channels;
      windowNorms(xp, p, norm.data());
      for (int64_t c = 0; c < p.channels; c++) yp[c] = static_cast<float>(xp[c] * powNegBeta(norm[c], p.beta));
    }
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("lrn", Lrn);

/**
 * lrnGrad(x, y, dy, dx, [pixels, channels, radius], bias, alpha, beta): tfjs's LRNGrad,
 * dx[k] = dy[k] norm[k]^-beta - 2 alpha beta x[k] * sum over c within radius of k of dy[c] y[c] / norm[c]
 * (the same sum tfjs scatters, gathered per output channel; windows are symmetric).
 */
Napi::Value LrnGrad(const Napi::CallbackInfo &info) {
  const F32Array x = f32Arg(info, 0), y = f32Arg(info, 1), dy = f32Arg(info, 2), dx = f32Arg(info, 3);
  const LrnParams p = lrnParams(info, 4, x.length);
  if (y.length != x.length || dy.length != x.length || dx.length != x.length) {
    throw std::runtime_error("lrnGrad: sizes differ");
  }
  const double scale = -2.0 * p.alpha * p.beta;
#pragma omp parallel
  {
    std::vector<double> norm(p.channels), t(p.channels);
#pragma omp for schedule(static)
    for (int64_t pixel = 0; pixel < p.pixels; pixel++) {
      const int64_t base = pixel * p.channels;
      const float *xp = x.data + base, *yp = y.data + base, *dyp = dy.data + base;
      float *dxp = dx.data + base;
      windowNorms(xp, p, norm.data());
      for (int64_t c = 0; c < p.channels; c++) t[c] = static_cast<double>(dyp[c]) * yp[c] / norm[c];
      double sum = 0;
      for (int64_t k = 0; k < std::min(p.radius, p.channels); k++) sum += t[k];
      for (int64_t k = 0; k < p.channels; k++) {
        if (k + p.radius < p.channels) sum += t[k + p.radius];
        if (k - p.radius - 1 >= 0) sum -= t[k - p.radius - 1];
        dxp[k] = static_cast<float>(dyp[k] * powNegBeta(norm[k], p.beta) + scale * xp[k] * sum);
      }
    }
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("lrnGrad", LrnGrad);

}  // namespace
}  // namespace inception
