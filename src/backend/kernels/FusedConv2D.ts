import { FusedConv2D, type FusedConv2DAttrs, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { convWindow } from '../window';

/** Conv2D + bias + ReLU in one oneDNN primitive (bias and ReLU as post-ops); other activations fall back. */
export const fusedConv2DConfig = nativeKernel(
  FusedConv2D,
  ({ inputs: { x, filter, bias }, backend, attrs }) => {
    const fused = attrs as unknown as FusedConv2DAttrs;
    if (fused.activation !== 'linear' && fused.activation !== 'relu') return null;
    const { info, window } = convWindow(x.shape, filter.shape, fused);
    const xs = backend.float32(x);
    const ws = backend.float32(filter);
    const bs = bias ? backend.float32(bias) : null;
    if (!window || !xs || !ws) return null;
    if (bias && (!bs || util.sizeFromShape(bias.shape) !== info.outChannels)) return null;
    const out = backend.allocate(info.outShape);
    backend.native.conv2d(xs, ws, bs, out, window, backend.tensorId(filter), fused.activation === 'relu');
    return backend.output(info.outShape, out);
  },
);
