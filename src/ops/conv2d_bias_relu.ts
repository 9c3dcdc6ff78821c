/**
 * relu(conv2d(x, filter) + bias) as one custom tfjs kernel with a registered gradient, for training: the
 * contract between the Conv2D layer (src/layers/conv2d.ts) and the backends that implement it
 * (src/backend/kernels/). tfjs fuses bias and ReLU into the convolution only when no gradient is being
 * recorded; while training it runs conv2d, a bias add and a ReLU, keeps both the pre- and post-activation
 * tensors for the backward pass, and takes the ReLU gradient as Step then Multiply and the bias gradient as a
 * Sum. With these kernels the forward pass is one primitive that keeps only its output, and the backward
 * pass masks dy with that output and gets the bias gradient out of the filter-gradient convolution.
 * Backends without them keep tfjs's own path.
 */
import * as tf from '@tensorflow/tfjs';
import { activeBackendHasKernels } from './has_kernels';

export const CONV2D_BIAS_RELU = 'InceptionConv2DBiasRelu';
export const CONV2D_BIAS_RELU_GRAD = 'InceptionConv2DBiasReluGrad';

/** Stride and padding as tfjs's Conv2D kernel takes them (NHWC, no dilation: tfjs has no dilated gradient). */
export interface Conv2DBiasReluAttrs {
  strides: [number, number];
  pad: 'valid' | 'same';
  /** Whether a bias was given (the gradient kernel then returns its gradient too). */
  hasBias: boolean;
}

/** Whether the active backend implements the fused training kernels. */
export function hasConv2DBiasReluKernels(): boolean {
  return activeBackendHasKernels(CONV2D_BIAS_RELU, CONV2D_BIAS_RELU_GRAD);
}

/** relu(conv2d(x, filter) + bias), NHWC x, HWIO filter; `bias` may be null (no bias). */
export function conv2dBiasRelu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  strides: [number, number],
  pad: 'valid' | 'same',
): tf.Tensor4D {
  const inputs: tf.NamedTensorMap = bias ? { x, filter, bias } : { x, filter };
  const attrs: Conv2DBiasReluAttrs = { strides, pad, hasBias: bias !== null };
  return tf.engine().runKernel(CONV2D_BIAS_RELU, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

tf.registerGradient({
  kernelName: CONV2D_BIAS_RELU,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dys, saved, attrs) => {
    const [x, filter, y] = saved;
    const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    // dz (dy through the ReLU), the filter and the bias gradients in one kernel call; each closure runs in
    // its own tidy, so they are made here. dz lives only until the input gradient has used it (the first
    // layer's input needs none: its dz goes with the backward pass's scope, at the very end).
    const [dz, dFilter, dBias] = tf
      .engine()
      .runKernel(CONV2D_BIAS_RELU_GRAD, { dy, x, y }, { ...attrs, filterShape: filter.shape }) as tf.Tensor[];
    const { strides, pad } = attrs as unknown as Conv2DBiasReluAttrs;
    return {
      x: () => {
        const dx = tf
          .engine()
          .runKernel(
            tf.Conv2DBackpropInput,
            { dy: dz, filter },
            { strides, pad, dataFormat: 'NHWC', inputShape: x.shape },
          ) as tf.Tensor;
        dz.dispose();
        return dx;
      },
      filter: () => dFilter,
      bias: () => dBias,
    };
  },
});
