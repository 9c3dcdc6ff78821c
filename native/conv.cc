// 2-D convolution, NHWC activations and HWIO filters as tfjs stores them: forward (optionally with bias and
// ReLU fused as post-ops), backward data and backward weights. The primitives choose their own layouts
// (format_tag::any); dnnl_common reorders in and out, and caches reordered filters. A convolution whose
// every output reads one and the same filter tap (a 1x1 stride-1 unpadded one: most of an Inception
// network's; or any kernel on a 1x1 map, where padding leaves only one tap in bounds) is a plain matrix
// product in NHWC/HWIO, so it runs as one (gemm) on that tap's [inC, outC] slice, with no reorders: 20-30%
// faster than the blocked 1x1 kernels with their reorders, and no arithmetic on padding.
// In bf16 (computeType()) the primitives take x, the filter and dy in bf16 (converted as inputFor and
// weightsFor stage them) and write y, dx, dw and db in f32.
#include <algorithm>

#include "dnnl_common.h"

namespace inception {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using Forward = Compiled<dnnl::convolution_forward>;
using BackwardData = Compiled<dnnl::convolution_backward_data>;
using BackwardWeights = Compiled<dnnl::convolution_backward_weights>;

memory::desc anyDesc(const Dims &dims, memory::data_type type = kF32) {
  return memory::desc(dims, type, Tag::any);
}
/** The filter in the compute precision, in the primitive's layout. */
memory::desc filterDesc(const Window2D &g) { return anyDesc(g.weights(), computeType()); }
/**
 * An activation (x, y, dx, dy; `read`: in the compute precision, else an f32 output). In f32 the primitive
 * picks the layout; in bf16 it is tfjs's NHWC, which oneDNN's bf16 kernels run as fast as blocked, so
 * inputs convert element by element and outputs need no reorder.
 */
memory::desc activationDesc(const Dims &dims, bool read) {
  const memory::data_type type = read ? computeType() : kF32;
  return memory::desc(dims, type, computeType() == kF32 ? Tag::any : Tag::nhwc);
}
memory::desc biasDesc(const Window2D &g) { return memory::desc({g.outC}, kF32, Tag::a); }

/** The cache key of a primitive for this geometry in the current compute precision. */
Key primitiveKey(const Window2D &g) {
  Key key = g.key();
  key.push_back(static_cast<int64_t>(computeType()));
  return key;
}

/** The forward primitive; without bias and ReLU it is also the hint the backward primitives need. */
Forward &forward(const Window2D &g, bool bias, bool relu) {
  static PrimitiveCache<Forward> cache;
  Key key = primitiveKey(g);
  key.insert(key.end(), {bias, relu});
  return cache.get(key, [&] {
    dnnl::convolution_forward::desc desc(prop_kind::forward_training, algorithm::convolution_direct,
                                         activationDesc(g.src(), true), filterDesc(g),
                                         bias ? biasDesc(g) : memory::desc(), activationDesc(g.dst(), false),
                                         g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    return Forward(dnnl::convolution_forward::primitive_desc(desc, attr, cpuEngine()));
  });
}

/**
 * Where every output pixel reads exactly one filter tap, the same for all, and reads the input pixel at its
 * own position: returns that tap's offset in the HWIO filter (in elements), else -1. Then
 * x [pixels, inC] · w[tap] [inC, outC] is the whole convolution.
 */
int64_t singleTapOffset(const Window2D &g) {
  const bool unpadded = g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0;
  if (g.kH == 1 && g.kW == 1 && g.strideH == 1 && g.strideW == 1 && unpadded) return 0;
  // A 1x1 map giving a 1x1 output: only the tap at (padTop, padLeft) is in bounds.
  const bool onePixel = g.inH == 1 && g.inW == 1 && g.outH == 1 && g.outW == 1;
  if (onePixel && g.dilationH == 1 && g.dilationW == 1 && g.padTop < g.kH && g.padLeft < g.kW) {
    return (g.padTop * g.kW + g.padLeft) * g.inC * g.outC;
  }
  return -1;
}

/** The matrix product a single-tap convolution is: [pixels, k] · [k, n]. */
GemmShape singleTapShape(const Window2D &g, int64_t k, int64_t n, bool transposeB, bool relu) {
  return {1, 1, g.batch * g.outH * g.outW, k, n, false, transposeB, relu};
}

/** The data of a Float32Array argument that must hold exactly `dims`' elements. */
float *sized(const Napi::CallbackInfo &info, size_t index, const Dims &dims) {
  int64_t elements = 1;
  for (int64_t d : dims) elements *= d;
  return f32Arg(info, index, elements).data;
}

/** conv2d(x, filter, bias | null, out, window, filterId, relu): out = relu?(conv(x, filter) + bias). */
Napi::Value Conv2D(const Napi::CallbackInfo &info) {
  const Window2D g = windowArg(info, 4);
  const bool hasBias = !isNullArg(info, 2);
  if (const int64_t tap = singleTapOffset(g); tap >= 0) {
    gemm(singleTapShape(g, g.inC, g.outC, false, intArg(info, 6) != 0), sized(info, 0, g.src()),
         sized(info, 1, g.weights()) + tap, hasBias ? sized(info, 2, {g.outC}) : nullptr, sized(info, 3, g.dst()));
    return info.Env().Undefined();
  }
  Forward &conv = forward(g, hasBias, intArg(info, 6) != 0);
  Args args{
      {DNNL_ARG_SRC, inputFor(userMemory(f32Arg(info, 0), g.src(), Tag::nhwc), conv.pd.src_desc(), Slot::Src)},
      {DNNL_ARG_WEIGHTS,
       weightsFor(intArg(info, 5), userMemory(f32Arg(info, 1), g.weights(), Tag::hwio), conv.pd.weights_desc())},
  };
  if (hasBias) args[DNNL_ARG_BIAS] = userMemory(f32Arg(info, 2), biasDesc(g));
  OutputFor dst(userMemory(f32Arg(info, 3), g.dst(), Tag::nhwc), conv.pd.dst_desc(), Slot::Dst);
  args[DNNL_ARG_DST] = dst.mem();
  execute(conv.primitive, args);
  dst.commit();
  return info.Env().Undefined();
}
INCEPTION_EXPORT("conv2d", Conv2D);

/** conv2dBackpropInput(dy, filter, dx, window, filterId): dx = the gradient of conv2d w.r.t. its input. */
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo &info) {
  const Window2D g = windowArg(info, 3);
  if (const int64_t tap = singleTapOffset(g); tap >= 0) {  // dx = dy [pixels, outC] · w[tap]ᵀ
    gemm(singleTapShape(g, g.outC, g.inC, true, false), sized(info, 0, g.dst()), sized(info, 1, g.weights()) + tap,
         nullptr, sized(info, 2, g.src()));
    return info.Env().Undefined();
  }
  static PrimitiveCache<BackwardData> cache;
  BackwardData &conv = cache.get(primitiveKey(g), [&] {
    dnnl::convolution_backward_data::desc desc(algorithm::convolution_direct, activationDesc(g.src(), false),
                                               filterDesc(g), activationDesc(g.dst(), true), g.strides(), g.dilates(),
                                               g.padL(), g.padR());
    return BackwardData(
        dnnl::convolution_backward_data::primitive_desc(desc, cpuEngine(), forward(g, false, false).pd));
  });
  OutputFor dx(userMemory(f32Arg(info, 2), g.src(), Tag::nhwc), conv.pd.diff_src_desc(), Slot::DiffSrc);
  execute(conv.primitive,
          {{DNNL_ARG_DIFF_DST,
            inputFor(userMemory(f32Arg(info, 0), g.dst(), Tag::nhwc), conv.pd.diff_dst_desc(), Slot::DiffDst)},
           {DNNL_ARG_WEIGHTS, weightsFor(intArg(info, 4), userMemory(f32Arg(info, 1), g.weights(), Tag::hwio),
                                         conv.pd.weights_desc())},
           {DNNL_ARG_DIFF_SRC, dx.mem()}});
  dx.commit();
  return info.Env().Undefined();
}
INCEPTION_EXPORT("conv2dBackpropInput", Conv2DBackpropInput);

/**
 * conv2dBackpropFilter(x, dy, dw, window, db | null): dw (HWIO) = the gradient of conv2d w.r.t. its filter;
 * with db, the bias gradient too (the sum of dy over batch and space), in the same pass over dy.
 */
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo &info) {
  const Window2D g = windowArg(info, 3);
  const bool hasBias = !isNullArg(info, 4);
  if (const int64_t tap = singleTapOffset(g); tap >= 0) {  // dw[tap] = xᵀ · dy; the other taps get nothing
    float *dy = sized(info, 1, g.dst()), *dw = sized(info, 2, g.weights());
    const int64_t pixels = g.batch * g.outH * g.outW;
    std::fill(dw, dw + g.kH * g.kW * g.inC * g.outC, 0.f);
    gemm({1, 1, g.inC, pixels, g.outC, true, false, false}, sized(info, 0, g.src()), dy, nullptr, dw + tap);
    if (hasBias) reduceMiddle(dy, sized(info, 4, {g.outC}), 1, pixels, g.outC, 1.0);
    return info.Env().Undefined();
  }
  static PrimitiveCache<BackwardWeights> cache;
  Key key = primitiveKey(g);
  key.push_back(hasBias);
  BackwardWeights &conv = cache.get(key, [&] {
    dnnl::convolution_backward_weights::desc desc(algorithm::convolution_direct, activationDesc(g.src(), true),
                                                  anyDesc(g.weights()), hasBias ? biasDesc(g) : memory::desc(),
                                                  activationDesc(g.dst(), true), g.strides(), g.dilates(), g.padL(),
                                                  g.padR());
    return BackwardWeights(dnnl::convolution_backward_weights::primitive_desc(desc, cpuEngine(),
                                                                              forward(g, hasBias, false).pd));
  });
  OutputFor dw(userMemory(f32Arg(info, 2), g.weights(), Tag::hwio), conv.pd.diff_weights_desc(),
               Slot::DiffWeights);
  Args args{
      {DNNL_ARG_SRC, inputFor(userMemory(f32Arg(info, 0), g.src(), Tag::nhwc), conv.pd.src_desc(), Slot::Src)},
      {DNNL_ARG_DIFF_DST,
       inputFor(userMemory(f32Arg(info, 1), g.dst(), Tag::nhwc), conv.pd.diff_dst_desc(), Slot::DiffDst)},
      {DNNL_ARG_DIFF_WEIGHTS, dw.mem()},
  };
  if (hasBias) args[DNNL_ARG_DIFF_BIAS] = userMemory(f32Arg(info, 4), biasDesc(g));
  execute(conv.primitive, args);
  dw.commit();
  return info.Env().Undefined();
}
INCEPTION_EXPORT("conv2dBackpropFilter", Conv2DBackpropFilter);

}  // namespace
}  // namespace inception
