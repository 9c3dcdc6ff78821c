import * as tf from '@tensorflow/tfjs';
import { conv2d } from '../layers/conv2d';
import { type LayerSeeds, layerSeeds } from './layer_seeds';

/** Filter counts of one inception module, named as in the paper's Table 1 and the Keras notebook. */
export interface InceptionFilters {
  /** Branch 1: 1x1 convolution. */
  filters1x1: number;
  /** Branch 2: 1x1 reduction before the 3x3 convolution. */
  filters3x3Reduce: number;
  /** Branch 2: 3x3 convolution. */
  filters3x3: number;
  /** Branch 3: 1x1 reduction before the 5x5 convolution. */
  filters5x5Reduce: number;
  /** Branch 3: 5x5 convolution. */
  filters5x5: number;
  /** Branch 4: 1x1 projection after the 3x3 stride-1 max pool ("pool proj" in the paper). */
  filtersPoolReduce: number;
}

/**
 * How each convolution of a module is built; builders differ only here (plain conv+ReLU, or conv→BN→ReLU).
 * `seeds` seeds its random initialisers (one draw per initialiser); without it they are unseeded.
 */
export type ConvBlock = (
  x: tf.SymbolicTensor,
  filters: number,
  kernelSize: number,
  name: string | undefined,
  strides?: number,
  seeds?: LayerSeeds,
) => tf.SymbolicTensor;

/** The notebook's initialisers: Glorot-uniform kernels, biases at 0.2 (keeps ReLUs alive early on). */
export function convInitializers(seeds?: LayerSeeds) {
  return {
    kernelInitializer: tf.initializers.glorotUniform({ seed: seeds?.next() }),
    biasInitializer: tf.initializers.constant({ value: 0.2 }),
  };
}

/** Conv2D with bias, ReLU and `same` padding: the notebook's only convolution. */
export const convRelu: ConvBlock = (x, filters, kernelSize, name, strides = 1, seeds) =>
  conv2d({
    filters,
    kernelSize,
    strides,
    padding: 'same',
    activation: 'relu',
    name,
    ...convInitializers(seeds),
  }).apply(x) as tf.SymbolicTensor;

export const FILTER_KEYS: (keyof InceptionFilters)[] = [
  'filters1x1',
  'filters3x3Reduce',
  'filters3x3',
  'filters5x5Reduce',
  'filters5x5',
  'filtersPoolReduce',
];

export function validateFilters(filters: InceptionFilters, where: string): void {
  for (const key of FILTER_KEYS) {
    const v = filters[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`${where}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
}

/**
 * One inception module: four branches on the same input, concatenated on the channel axis in the
 * order 1x1 | 1x1→3x3 | 1x1→5x5 | maxpool 3x3/1→1x1. The concat layer carries `name`; inner layers are
 * `${name}_1x1`, `${name}_3x3_reduce`, `${name}_3x3`, `${name}_5x5_reduce`, `${name}_5x5`, `${name}_pool`,
 * `${name}_pool_proj` so that every layer name stays stable and predictable. `seed` (an integer, or a
 * builder's LayerSeeds) makes the initial weights reproducible, different for each convolution.
 */
export function inceptionModule(
  x: tf.SymbolicTensor,
  filters: InceptionFilters,
  name?: string,
  conv: ConvBlock = convRelu,
  seed?: number | LayerSeeds,
): tf.SymbolicTensor {
  const where = `inceptionModule(${name ?? ''})`;
  validateFilters(filters, where);
  const seeds = layerSeeds(where, seed);
  // Without a module name the inner layers get tfjs's automatic unique names.
  const inner = (suffix: string) => (name ? `${name}_${suffix}` : undefined);
  const b1 = conv(x, filters.filters1x1, 1, inner('1x1'), 1, seeds);
  let b2 = conv(x, filters.filters3x3Reduce, 1, inner('3x3_reduce'), 1, seeds);
  b2 = conv(b2, filters.filters3x3, 3, inner('3x3'), 1, seeds);
  let b3 = conv(x, filters.filters5x5Reduce, 1, inner('5x5_reduce'), 1, seeds);
  b3 = conv(b3, filters.filters5x5, 5, inner('5x5'), 1, seeds);
  let b4 = tf.layers
    .maxPooling2d({ poolSize: 3, strides: 1, padding: 'same', name: inner('pool') })
    .apply(x) as tf.SymbolicTensor;
  b4 = conv(b4, filters.filtersPoolReduce, 1, inner('pool_proj'), 1, seeds);
  return tf.layers.concatenate({ axis: 3, name }).apply([b1, b2, b3, b4]) as tf.SymbolicTensor;
}
