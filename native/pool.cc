// 2-D average pooling on NHWC tensors, forward and backward, by oneDNN (which pools NHWC directly, so no
// reorders). Max pooling is in max_pool.cc.
#include "dnnl_common.h"

namespace inception {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using Forward = Compiled<dnnl::pooling_forward>;
using Backward = Compiled<dnnl::pooling_backward>;

memory::desc nhwc(const Dims &dims) { return memory::desc(dims, kF32, Tag::nhwc); }

// Average pooling divides by the number of in-bounds elements, as tfjs's AvgPool does.
constexpr algorithm kAvg = algorithm::pooling_avg_exclude_padding;

Forward &forward(const Window2D &g, prop_kind prop) {
  static PrimitiveCache<Forward> cache;
  Key key = g.key();
  key.push_back(static_cast<int64_t>(prop));
  return cache.get(key, [&] {
    dnnl::pooling_forward::desc desc(prop, kAvg, nhwc(g.src()), nhwc(g.dst()), g.strides(), g.kernel(), g.padL(),
                                     g.padR());
    return Forward(dnnl::pooling_forward::primitive_desc(desc, cpuEngine()));
  });
}

Backward &backward(const Window2D &g) {
  static PrimitiveCache<Backward> cache;
  return cache.get(g.key(), [&] {
    dnnl::pooling_backward::desc desc(kAvg, nhwc(g.src()), nhwc(g.dst()), g.strides(), g.kernel(), g.padL(),
                                      g.padR());
    return Backward(
        dnnl::pooling_backward::primitive_desc(desc, cpuEngine(), forward(g, prop_kind::forward_training).pd));
  });
}

/** avgPool(x, out, window). */
Napi::Value AvgPool(const Napi::CallbackInfo &info) {
  const Window2D g = windowArg(info, 2);
  execute(forward(g, prop_kind::forward_inference).primitive,
          {{DNNL_ARG_SRC, userMemory(f32Arg(info, 0), nhwc(g.src()))},
           {DNNL_ARG_DST, userMemory(f32Arg(info, 1), nhwc(g.dst()))}});
  return info.Env().Undefined();
}
INCEPTION_EXPORT("avgPool", AvgPool);

/** avgPoolGrad(dy, dx, window): spreads dy evenly over each window's in-bounds elements. */
Napi::Value AvgPoolGrad(const Napi::CallbackInfo &info) {
  const Window2D g = windowArg(info, 2);
  execute(backward(g).primitive, {{DNNL_ARG_DIFF_DST, userMemory(f32Arg(info, 0), nhwc(g.dst()))},
                                        {DNNL_ARG_DIFF_SRC, userMemory(f32Arg(info, 1), nhwc(g.src()))}});
  return info.Env().Undefined();
}
INCEPTION_EXPORT("avgPoolGrad", AvgPoolGrad);

}  // namespace
}  // namespace inception
