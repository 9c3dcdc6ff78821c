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

/** Rows (or columns) ceil mode adds after the map: Caffe's and PyTorch's `ceil((n - k) / s) + 1` outputs. */
function ceilModeExtra(n: number, poolSize: number, strides: number): number {
  const out = Math.ceil((n - poolSize) / strides) + 1;
  return (out - 1) * strides + poolSize - n;
}

/** Bottom/right padding Keras `same` adds for this pool, or null when it also pads the top/left. */
function sameExtra(n: number, poolSize: number, strides: number): number | null {
  const total = Math.max((Math.ceil(n / strides) - 1) * strides + poolSize - n, 0);
  return total > 1 ? null : total;
}

/**
 * Max pool without padding in Caffe's (and PyTorch's `ceil_mode=True`) ceil mode: a last, partial window
 * at the bottom/right when the stride does not divide the map, its missing cells ignored. Built from the
 * static input shape as a `valid` pool when no window is partial, a `same` pool when `same` pads exactly
 * those cells (e.g. 3x3/2 on an even map), else a bottom/right ZeroPadding2D `${name}_pad` + `valid` pool.
 * The zero padding equals Caffe's ignored cells only because every such pool here follows a ReLU (inputs
 * are >= 0); do not use it on inputs that can be negative.
 */
export function ceilModeMaxPool(
  x: tf.SymbolicTensor,
  poolSize: number,
  strides: number,
  name: string,
): tf.SymbolicTensor {
  const [, h, w] = x.shape as number[];
  const extra = [ceilModeExtra(h, poolSize, strides), ceilModeExtra(w, poolSize, strides)];
  const same = [sameExtra(h, poolSize, strides), sameExtra(w, poolSize, strides)];
  const pool = (padding: 'same' | 'valid', input: tf.SymbolicTensor) =>
    tf.layers.maxPooling2d({ poolSize, strides, padding, name }).apply(input) as tf.SymbolicTensor;
  if (extra[0] === 0 && extra[1] === 0) return pool('valid', x);
  if (same[0] === extra[0] && same[1] === extra[1]) return pool('same', x);
  const padded = tf.layers
    .zeroPadding2d({
      padding: [
        [0, extra[0]],
        [0, extra[1]],
      ],
      name: `${name}_pad`,
    })
    .apply(x) as tf.SymbolicTensor;
  return pool('valid', padded);
}
