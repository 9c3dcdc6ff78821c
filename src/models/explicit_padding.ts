import * as tf from '@tensorflow/tfjs';
import { conv2d } from '../layers/conv2d';
import { type ConvBlock, convInitializers, convRelu } from './inception_module';

/**
 * Caffe's (and PyTorch's) convolution padding, `kernelSize // 2` zeros on every side, with conv + bias +
 * ReLU. At stride 1 (odd kernels) this is exactly Keras `same`, so it is `convRelu`; at stride 2 `same` pads
 * the smaller half first (2 top/left, 3 bottom/right for a 7x7 on an even map), which shifts the sampling
 * grid by one pixel against weights trained with symmetric padding: there a ZeroPadding2D `${name}_pad`
 * feeds a `valid` convolution. Same initialisers and seed draws as `convRelu`.
 */
export const symmetricPadConvRelu: ConvBlock = (x, filters, kernelSize, name, strides = 1, seeds) => {
  if (strides === 1) return convRelu(x, filters, kernelSize, name, strides, seeds);
  const pad = Math.floor(kernelSize / 2);
  const padded = tf.layers
    .zeroPadding2d({ padding: [pad, pad], name: name ? `${name}_pad` : undefined })
    .apply(x) as tf.SymbolicTensor;
  return conv2d({
    filters,
    kernelSize,
    strides,
    padding: 'valid',
    activation: 'relu',
    name,
    ...convInitializers(seeds),
  }).apply(padded) as tf.SymbolicTensor;
};

/**
 * Output length of a ceil-mode pool along one axis (Caffe's PoolingLayer and ATen's pooling_output_shape):
 * `ceil((n + 2p - k) / s) + 1`, less one when that last window would start in the padding after the input.
 */
export function ceilModeLength(n: number, poolSize: number, strides: number, padding = 0): number {
  let out = Math.ceil((n + 2 * padding - poolSize) / strides) + 1;
  if ((out - 1) * strides >= n + padding) out--;
  return out;
}

/** [output length, padding before the first window] of a tfjs `valid` or `same` pool along one axis. */
function tfjsPoolAxis(
  mode: 'valid' | 'same',
  n: number,
  poolSize: number,
  strides: number,
): [number, number] {
  if (mode === 'valid') return [Math.floor((n - poolSize) / strides) + 1, 0];
  const out = Math.ceil(n / strides);
  return [out, Math.floor(Math.max((out - 1) * strides + poolSize - n, 0) / 2)];
}

/**
 * Max pool in Caffe's ceil mode (PyTorch's `ceil_mode=True`), with `padding` cells before and after: a
 * last, partial window at the bottom/right when the stride does not divide the map, its missing cells
 * ignored. tfjs has no ceil mode, but a `valid` or `same` pool places the same windows whenever it has the
 * same output length and the same padding before the first window (both clip windows that run past the
 * end), which at 224x224 and on square maps is always the case. Otherwise (height and width that need
 * different modes) a ZeroPadding2D `${name}_pad` + `valid` pool: equal to the ignored cells only because every
 * such pool here follows a ReLU (inputs >= 0) and every window keeps one real cell; do not use it on inputs
 * that can be negative.
 */
export function ceilModeMaxPool(
  x: tf.SymbolicTensor,
  poolSize: number,
  strides: number,
  name: string,
  padding = 0,
): tf.SymbolicTensor {
  const [, h, w] = x.shape as number[];
  const out = [h, w].map((n) => ceilModeLength(n, poolSize, strides, padding));
  if (out.some((n) => n < 1)) {
    throw new Error(`${name}: a ${poolSize}x${poolSize} pool does not fit the ${h}x${w} map`);
  }
  const pool = (mode: 'same' | 'valid', input: tf.SymbolicTensor) =>
    tf.layers.maxPooling2d({ poolSize, strides, padding: mode, name }).apply(input) as tf.SymbolicTensor;
  for (const mode of ['valid', 'same'] as const) {
    const fits = [h, w].every((n, i) => {
      const [length, before] = tfjsPoolAxis(mode, n, poolSize, strides);
      return length === out[i] && before === padding;
    });
    if (fits) return pool(mode, x);
  }
  const after = [h, w].map((n, i) => Math.max(0, (out[i] - 1) * strides + poolSize - n - padding));
  const padded = tf.layers
    .zeroPadding2d({
      padding: [
        [padding, after[0]],
        [padding, after[1]],
      ],
      name: `${name}_pad`,
    })
    .apply(x) as tf.SymbolicTensor;
  return pool('valid', padded);
}
