// Sum and mean over a contiguous run of axes: the tensor is seen as [outer, reduce, inner] and reduced over
// the middle. That covers bias gradients (NHWC over N,H,W: outer 1), global average pooling (over H,W) and
// last-axis reductions (inner 1). Accumulates in double like tfjs's cpu kernels (which sum in JS numbers).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "dnnl_common.h"

namespace inception {

void reduceMiddle(const float *x, float *out, int64_t outer, int64_t reduce, int64_t inner, double scale) {
  const int64_t results = outer * inner;
  const int threads = omp_get_max_threads();
  if (outer >= threads || reduce * inner < (1 << 15)) {
    // Enough independent rows (or too little work to split): one row per task.
#pragma omp parallel for schedule(static) if (outer * reduce * inner > (1 << 15))
    for (int64_t o = 0; o < outer; o++) {
      std::vector<double> sum(inner, 0.0);
      const float *block = x + o * reduce * inner;
      for (int64_t r = 0; r < reduce; r++) {
        for (int64_t i = 0; i < inner; i++) sum[i] += block[r * inner + i];
      }
      for (int64_t i = 0; i < inner; i++) out[o * inner + i] = static_cast<float>(sum[i] * scale);
    }
    return;
  }
  // Few long rows (a bias gradient): each thread sums a range of r into its own partial result.
  std::vector<double> partial(static_cast<size_t>(threads) * results, 0.0);
#pragma omp parallel
  {
    double *mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * results;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < reduce; r++) {
      for (int64_t o = 0; o < outer; o++) {
        const float *row = x + (o * reduce + r) * inner;
        double *sum = mine + o * inner;
        for (int64_t i = 0; i < inner; i++) sum[i] += row[i];
      }
    }
  }
  for (int64_t k = 0; k < results; k++) {
    double total = 0;
    for (int t = 0; t < threads; t++) total += partial[static_cast<size_t>(t) * results + k];
    out[k] = static_cast<float>(total * scale);
  }
}

namespace {

/** reduceSum(x, out, outer, reduce, inner, mean). */
Napi::Value ReduceSum(const Napi::CallbackInfo &info) {
  const F32Array x = f32Arg(info, 0), out = f32Arg(info, 1);
  const int64_t outer = intArg(info, 2), reduce = intArg(info, 3), inner = intArg(info, 4);
  if (static_cast<int64_t>(x.length) != outer * reduce * inner ||
      static_cast<int64_t>(out.length) != outer * inner) {
    throw Napi::RangeError::New(info.Env(), "reduceSum: sizes do not match [outer, reduce, inner]");
  }
  const double scale = intArg(info, 5) && reduce > 0 ? 1.0 / static_cast<double>(reduce) : 1.0;
  reduceMiddle(x.data, out.data, outer, reduce, inner, scale);
  return info.Env().Undefined();
}
INCEPTION_EXPORT("reduceSum", ReduceSum);

}  // namespace
}  // namespace inception
