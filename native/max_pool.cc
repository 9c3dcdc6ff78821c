// 2-D max pooling on NHWC tensors, forward and backward, as plain loops over channel vectors. oneDNN 2.6's
// NHWC max pooling ran at ~1-2 GB/s here (a 3x3/1 pool of a 128x32x32x48 batch: 21-50 ms; its backward,
// which needs a training forward for the argmax workspace because tfjs keeps none, ~90 ms), slower than the
// convolutions beside it; these loops read each window from cache and take a few ms.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <immintrin.h>
#include <limits>
#include <vector>

#include "dnnl_common.h"

namespace inception {
namespace {

void checkSizes(const Window2D &g, const F32Array &in, const F32Array &out) {
  if (static_cast<int64_t>(in.length) != g.batch * g.inH * g.inW * g.inC ||
      static_cast<int64_t>(out.length) != g.batch * g.outH * g.outW * g.inC || g.inC != g.outC) {
    throw std::runtime_error("maxPool: tensor sizes do not match the window geometry");
  }
}

/** The in-bounds window rows [h0, h1) and columns [w0, w1) of output pixel (oh, ow). */
struct Span {
  int64_t h0, h1, w0, w1;
};
Span windowAt(const Window2D &g, int64_t oh, int64_t ow) {
  const int64_t h = oh * g.strideH - g.padTop, w = ow * g.strideW - g.padLeft;
  return {std::max<int64_t>(h, 0), std::min(h + g.kH, g.inH), std::max<int64_t>(w, 0), std::min(w + g.kW, g.inW)};
}

/** maxPool(x, out, window): the maximum of each window's in-bounds elements, per channel. */
Napi::Value MaxPool(const Napi::CallbackInfo &info) {
  const Window2D g = windowArg(info, 2);
  const F32Array x = f32Arg(info, 0), out = f32Arg(info, 1);
  checkSizes(g, x, out);
  const int64_t C = g.inC;
#pragma omp parallel for collapse(2) schedule(static) if (out.length >= (1 << 14))
  for (int64_t n = 0; n < g.batch; n++) {
    for (int64_t oh = 0; oh < g.outH; oh++) {
      for (int64_t ow = 0; ow < g.outW; ow++) {
        const Span s = windowAt(g, oh, ow);
        float *o = out.data + ((n * g.outH + oh) * g.outW + ow) * C;
        std::fill(o, o + C, -std::numeric_limits<float>::infinity());
        for (int64_t h = s.h0; h < s.h1; h++) {
          for (int64_t w = s.w0; w < s.w1; w++) {
            const float *xp = x.data + ((n * g.inH + h) * g.inW + w) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) o[c] = xp[c] > o[c] ? xp[c] : o[c];
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("maxPool", MaxPool);

/**
 * maxPoolGrad(dy, x, y, dx, window): each window's dy goes to the first position (in row-major window order)
 * whose x equals the window's maximum y (the forward's output, which tfjs passes), as tfjs's cpu kernel
 * does. Every step is a contiguous channel-vector operation: no argmax indices, no scatter. Images are
 * independent, so threads split the batch and overlapping windows never race.
 */
Napi::Value MaxPoolGrad(const Napi::CallbackInfo &info) {
  const Window2D g = windowArg(info, 4);
  const F32Array dy = f32Arg(info, 0), x = f32Arg(info, 1), y = f32Arg(info, 2), dx = f32Arg(info, 3);
  checkSizes(g, x, dy);
  if (dx.length != x.length || y.length != dy.length) {
    throw std::runtime_error("maxPoolGrad: dx and x, or y and dy, differ in size");
  }
  const int64_t C = g.inC, plane = g.inH * g.inW;
#pragma omp parallel for schedule(static) if (x.length >= (1 << 14))
  for (int64_t n = 0; n < g.batch; n++) {
    float *dxImage = dx.data + n * plane * C;
    const float *xImage = x.data + n * plane * C;
    std::memset(dxImage, 0, plane * C * sizeof(float));
    for (int64_t oh = 0; oh < g.outH; oh++) {
      for (int64_t ow = 0; ow < g.outW; ow++) {
        const Span s = windowAt(g, oh, ow);
        const int64_t o = ((n * g.outH + oh) * g.outW + ow) * C;
        const float *d = dy.data + o, *m = y.data + o;
        int64_t c = 0;
        // 8 channels at a time; `placed` marks the channels whose dy went to an earlier position. (Plain
        // loops with the flag in memory ran 7x slower: GCC did not keep it in a register.)
        for (; c + 8 <= C; c += 8) {
          const __m256 dv = _mm256_loadu_ps(d + c), mv = _mm256_loadu_ps(m + c);
          __m256 placed = _mm256_setzero_ps();
          for (int64_t h = s.h0; h < s.h1; h++) {
            for (int64_t w = s.w0; w < s.w1; w++) {
              const int64_t at = (h * g.inW + w) * C + c;
              const __m256 isMax = _mm256_cmp_ps(_mm256_loadu_ps(xImage + at), mv, _CMP_EQ_OQ);
              const __m256 take = _mm256_andnot_ps(placed, isMax);
              placed = _mm256_or_ps(placed, isMax);
              _mm256_storeu_ps(dxImage + at, _mm256_add_ps(_mm256_loadu_ps(dxImage + at), _mm256_and_ps(take, dv)));
            }
          }
        }
        for (; c < C; c++) {
          bool placed = false;
          for (int64_t h = s.h0; h < s.h1 && !placed; h++) {
            for (int64_t w = s.w0; w < s.w1 && !placed; w++) {
              const int64_t at = (h * g.inW + w) * C + c;
              if (xImage[at] == m[c]) {
                dxImage[at] += d[c];
                placed = true;
              }
            }
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}
INCEPTION_EXPORT("maxPoolGrad", MaxPoolGrad);

}  // namespace
}  // namespace inception
