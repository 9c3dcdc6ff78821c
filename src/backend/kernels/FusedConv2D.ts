import { FusedConv2D, type FusedConv2DAttrs, type TensorInfo, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import type { OneDnnBackend } from '../onednn_backend';
import { type ConvAttrs, convWindow } from '../window';

/**
 * relu?(conv2d(x, filter) + bias) in one oneDNN primitive (bias and ReLU as post-ops), or null where oneDNN
 * cannot express the geometry. Shared with the training kernel InceptionConv2DBiasRelu.
 */
export function convBiasActivation(
  backend: OneDnnBackend,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  attrs: ConvAttrs,
  relu: boolean,
): TensorInfo | null {
  const { info, window } = convWindow(x.shape, filter.shape, attrs);
  const xs = backend.float32(x);
  const ws = backend.float32(filter);
  const bs = bias ? backend.float32(bias) : null;
  if (!window || !xs || !ws) return null;
  if (bias && (!bs || util.sizeFromShape(bias.shape) !== info.outChannels)) return null;
  const out = backend.allocate(info.outShape);
  backend.native.conv2d(xs, ws, bs, out, window, backend.tensorId(filter), relu);
  return backend.output(info.outShape, out);
}

/** Conv2D + bias + ReLU in one primitive; other activations fall back. */
export const fusedConv2DConfig = nativeKernel(
  FusedConv2D,
  ({ inputs: { x, filter, bias }, backend, attrs }) => {
    const fused = attrs as unknown as FusedConv2DAttrs;
    if (fused.activation !== 'linear' && fused.activation !== 'relu') return null;
    return convBiasActivation(backend, x, filter, bias, fused, fused.activation === 'relu');
  },
);
