import { CONV2D_BIAS_RELU_GRAD, type Conv2DBiasReluAttrs } from '../../ops/conv2d_bias_relu';
import { broadcastGeometry } from '../broadcast';
import { nativeKernel } from '../native_kernel';
import { convWindow } from '../window';
import { RELU_MASK } from './binary_ops';

/**
 * The gradient of InceptionConv2DBiasRelu up to its input: dz = dy masked by the ReLU's output y, then the
 * filter gradient and (when the attrs say the op had a bias) the bias gradient from one oneDNN pass over dz.
 * Returns [dz, dFilter, dBias?]; the input gradient is a plain Conv2DBackpropInput of dz.
 */
export const inceptionConv2DBiasReluGradConfig = nativeKernel(
  CONV2D_BIAS_RELU_GRAD,
  ({ inputs: { dy, x, y }, backend, attrs }) => {
    const { filterShape, hasBias } = attrs as unknown as Conv2DBiasReluAttrs & { filterShape: number[] };
    const { info, window } = convWindow(x.shape, filterShape, attrs as unknown as Conv2DBiasReluAttrs);
    const [dys, xs, ys] = [dy, x, y].map((t) => backend.float32(t));
    if (!window || !dys || !xs || !ys) {
      throw new Error(`onednn: ${CONV2D_BIAS_RELU_GRAD} takes float32 tensors of a supported geometry`);
    }
    const { shape, aStrides, bStrides } = broadcastGeometry(dy.shape, y.shape);
    const dz = backend.allocate(y.shape);
    backend.native.binary(RELU_MASK, dys, ys, dz, shape, aStrides, bStrides);
    const dFilter = backend.allocate(info.filterShape);
    const dBias = hasBias ? new Float32Array(info.outChannels) : null;
    backend.native.conv2dBackpropFilter(xs, dz, dFilter, window, dBias);
    const outputs = [backend.output(y.shape, dz), backend.output(info.filterShape, dFilter)];
    if (dBias) outputs.push(backend.output([info.outChannels], dBias));
    return outputs;
  },
);
