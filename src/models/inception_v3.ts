import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../layers/batch_normalization';
import { conv2d } from '../layers/conv2d';
import { denseLayer, type GoogLeNetArgs, type ResolvedArgs, resolveArgs, scaleFilters } from './googlenet';
import type { LayerSeeds } from './layer_seeds';

/** Keras's `default_size` and `min_size` for InceptionV3 (`imagenet_utils.obtain_input_shape`). */
export const INCEPTION_V3_INPUT_SIZE = 299;
export const INCEPTION_V3_MIN_INPUT_SIZE = 75;
/** Keras's `classes` default: ImageNet. */
export const INCEPTION_V3_CLASSES = 1000;

/**
 * Hands out layer names as Keras 3 does for unnamed layers (`conv2d`, `conv2d_1`, ...), so that names, and
 * through them the order of `model.layers`, match `keras.applications.InceptionV3()` built in a fresh session.
 */
class KerasNames {
  private readonly counts = new Map<string, number>();

  next(prefix: string): string {
    const n = this.counts.get(prefix) ?? 0;
    this.counts.set(prefix, n + 1);
    return n === 0 ? prefix : `${prefix}_${n}`;
  }
}

interface Builder {
  names: KerasNames;
  seeds: LayerSeeds;
  widthMultiplier: number;
}

type Padding = 'same' | 'valid';

/**
 * Keras's `conv2d_bn`: Conv2D without bias (Keras's Glorot-uniform kernel) → BatchNormalization without
 * scale (ReLU follows, so gamma would be redundant; Keras defaults: momentum 0.99, epsilon 1e-3) → ReLU.
 */
function conv2dBn(
  b: Builder,
  x: tf.SymbolicTensor,
  filters: number,
  rows: number,
  cols: number,
  padding: Padding = 'same',
  strides = 1,
): tf.SymbolicTensor {
  let y = conv2d({
    filters: scaleFilters(filters, b.widthMultiplier),
    kernelSize: [rows, cols],
    strides,
    padding,
    useBias: false,
    kernelInitializer: tf.initializers.glorotUniform({ seed: b.seeds.next() }),
    name: b.names.next('conv2d'),
  }).apply(x) as tf.SymbolicTensor;
  y = batchNormalization({
    axis: -1,
    scale: false,
    momentum: 0.99,
    epsilon: 1e-3,
    name: b.names.next('batch_normalization'),
  }).apply(y) as tf.SymbolicTensor;
  return tf.layers
    .activation({ activation: 'relu', name: b.names.next('activation') })
    .apply(y) as tf.SymbolicTensor;
}

function maxPool3x3s2(b: Builder, x: tf.SymbolicTensor): tf.SymbolicTensor {
  return tf.layers
    .maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: b.names.next('max_pooling2d') })
    .apply(x) as tf.SymbolicTensor;
}

/** 3x3 stride-1 `same` average pool of the pool branches (padding excluded from the mean, as in TF). */
function avgPool3x3s1(b: Builder, x: tf.SymbolicTensor): tf.SymbolicTensor {
  return tf.layers
    .averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: b.names.next('average_pooling2d') })
    .apply(x) as tf.SymbolicTensor;
}

function concat(b: Builder, xs: tf.SymbolicTensor[], name?: string): tf.SymbolicTensor {
  return tf.layers
    .concatenate({ axis: -1, name: name ?? b.names.next('concatenate') })
    .apply(xs) as tf.SymbolicTensor;
}

/** mixed0-2 (35x35): 1x1 | 1x1 → 5x5 | 1x1 → 3x3 → 3x3 | avg pool → 1x1 (`poolFilters`). */
function block35(b: Builder, x: tf.SymbolicTensor, poolFilters: number, name: string): tf.SymbolicTensor {
  const branch1x1 = conv2dBn(b, x, 64, 1, 1);
  let branch5x5 = conv2dBn(b, x, 48, 1, 1);
  branch5x5 = conv2dBn(b, branch5x5, 64, 5, 5);
  let branch3x3dbl = conv2dBn(b, x, 64, 1, 1);
  branch3x3dbl = conv2dBn(b, branch3x3dbl, 96, 3, 3);
  branch3x3dbl = conv2dBn(b, branch3x3dbl, 96, 3, 3);
  const branchPool = conv2dBn(b, avgPool3x3s1(b, x), poolFilters, 1, 1);
  return concat(b, [branch1x1, branch5x5, branch3x3dbl, branchPool], name);
}

/** mixed4-7 (17x17): the factorised 7x7 branches with `c` channels inside. */
function block17(b: Builder, x: tf.SymbolicTensor, c: number, name: string): tf.SymbolicTensor {
  const branch1x1 = conv2dBn(b, x, 192, 1, 1);
  let branch7x7 = conv2dBn(b, x, c, 1, 1);
  branch7x7 = conv2dBn(b, branch7x7, c, 1, 7);
  branch7x7 = conv2dBn(b, branch7x7, 192, 7, 1);
  let branch7x7dbl = conv2dBn(b, x, c, 1, 1);
  branch7x7dbl = conv2dBn(b, branch7x7dbl, c, 7, 1);
  branch7x7dbl = conv2dBn(b, branch7x7dbl, c, 1, 7);
  branch7x7dbl = conv2dBn(b, branch7x7dbl, c, 7, 1);
  branch7x7dbl = conv2dBn(b, branch7x7dbl, 192, 1, 7);
  const branchPool = conv2dBn(b, avgPool3x3s1(b, x), 192, 1, 1);
  return concat(b, [branch1x1, branch7x7, branch7x7dbl, branchPool], name);
}

/** mixed9-10 (8x8): the expanded filter banks; `index` names the inner concatenation `mixed9_${index}`. */
function block8(b: Builder, x: tf.SymbolicTensor, index: number): tf.SymbolicTensor {
  const branch1x1 = conv2dBn(b, x, 320, 1, 1);
  let branch3x3 = conv2dBn(b, x, 384, 1, 1);
  const branch3x3a = conv2dBn(b, branch3x3, 384, 1, 3);
  const branch3x3b = conv2dBn(b, branch3x3, 384, 3, 1);
  branch3x3 = concat(b, [branch3x3a, branch3x3b], `mixed9_${index}`);
  let branch3x3dbl = conv2dBn(b, x, 448, 1, 1);
  branch3x3dbl = conv2dBn(b, branch3x3dbl, 384, 3, 3);
  const branch3x3dblA = conv2dBn(b, branch3x3dbl, 384, 1, 3);
  const branch3x3dblB = conv2dBn(b, branch3x3dbl, 384, 3, 1);
  branch3x3dbl = concat(b, [branch3x3dblA, branch3x3dblB]);
  const branchPool = conv2dBn(b, avgPool3x3s1(b, x), 192, 1, 1);
  return concat(b, [branch1x1, branch3x3, branch3x3dbl, branchPool], `mixed${9 + index}`);
}

/** Input → mixed10, exactly `keras.applications.inception_v3.InceptionV3`'s body; 299x299 → 8x8x2048. */
function inceptionV3Body(b: Builder, input: tf.SymbolicTensor): tf.SymbolicTensor {
  let x = conv2dBn(b, input, 32, 3, 3, 'valid', 2); // 149x149x32
  x = conv2dBn(b, x, 32, 3, 3, 'valid'); // 147x147x32
  x = conv2dBn(b, x, 64, 3, 3); // 147x147x64
  x = maxPool3x3s2(b, x); // 73x73x64
  x = conv2dBn(b, x, 80, 1, 1, 'valid'); // 73x73x80
  x = conv2dBn(b, x, 192, 3, 3, 'valid'); // 71x71x192
  x = maxPool3x3s2(b, x); // 35x35x192

  x = block35(b, x, 32, 'mixed0'); // 35x35x256
  x = block35(b, x, 64, 'mixed1'); // 35x35x288
  x = block35(b, x, 64, 'mixed2'); // 35x35x288

  // mixed3: grid reduction to 17x17x768.
  const branch3x3 = conv2dBn(b, x, 384, 3, 3, 'valid', 2);
  let branch3x3dbl = conv2dBn(b, x, 64, 1, 1);
  branch3x3dbl = conv2dBn(b, branch3x3dbl, 96, 3, 3);
  branch3x3dbl = conv2dBn(b, branch3x3dbl, 96, 3, 3, 'valid', 2);
  x = concat(b, [branch3x3, branch3x3dbl, maxPool3x3s2(b, x)], 'mixed3');

  x = block17(b, x, 128, 'mixed4');
  x = block17(b, x, 160, 'mixed5');
  x = block17(b, x, 160, 'mixed6');
  x = block17(b, x, 192, 'mixed7'); // 17x17x768

  // mixed8: grid reduction to 8x8x1280.
  let branch3x3r = conv2dBn(b, x, 192, 1, 1);
  branch3x3r = conv2dBn(b, branch3x3r, 320, 3, 3, 'valid', 2);
  let branch7x7x3 = conv2dBn(b, x, 192, 1, 1);
  branch7x7x3 = conv2dBn(b, branch7x7x3, 192, 1, 7);
  branch7x7x3 = conv2dBn(b, branch7x7x3, 192, 7, 1);
  branch7x7x3 = conv2dBn(b, branch7x7x3, 192, 3, 3, 'valid', 2);
  x = concat(b, [branch3x3r, branch7x7x3, maxPool3x3s2(b, x)], 'mixed8');

  x = block8(b, x, 0); // 8x8x2048
  return block8(b, x, 1); // 8x8x2048
}

function resolveInceptionV3Args(args: GoogLeNetArgs): ResolvedArgs {
  if (args.dropout !== undefined) {
    throw new Error(
      `inception-v3: dropout is not an option (Keras's InceptionV3 has no dropout), got ${JSON.stringify(args.dropout)}`,
    );
  }
  const a = resolveArgs(
    'inception-v3',
    {
      ...args,
      inputShape: args.inputShape ?? [INCEPTION_V3_INPUT_SIZE, INCEPTION_V3_INPUT_SIZE, 3],
      numClasses: args.numClasses ?? INCEPTION_V3_CLASSES,
    },
    INCEPTION_V3_MIN_INPUT_SIZE,
  );
  if (a.inputShape[2] !== 3) {
    throw new Error(
      `inception-v3: inputShape ${JSON.stringify(a.inputShape)} must have 3 channels (Keras's InceptionV3 takes RGB)`,
    );
  }
  return a;
}

/**
 * Keras applications' InceptionV3 (Szegedy et al. 2015, "Rethinking the Inception Architecture"), layer for
 * layer: the same layers, names (`mixed0` ... `mixed10`, Keras 3's `conv2d_N`/`batch_normalization_N`), order
 * of `model.layers` (which Keras's legacy .h5 weights are matched by), initialisers and head: 23,851,784
 * parameters with the 1000-class top, 21,802,784 without. Inputs are expected in [-1, 1] (Keras's
 * `inception_v3.preprocess_input`). `includeTop: false` ends at mixed10 (8x8x2048 at 299x299) or, with
 * `pooling`, at its global average or max pool. `widthMultiplier` (not in Keras; default 1, Keras's network)
 * scales every filter count, for small experiments.
 */
export function inceptionV3(args: GoogLeNetArgs = {}): tf.LayersModel {
  const a = resolveInceptionV3Args(args);
  const b: Builder = { names: new KerasNames(), seeds: a.seeds, widthMultiplier: a.widthMultiplier };
  const input = tf.input({ shape: a.inputShape, name: 'input_layer' });
  let x = inceptionV3Body(b, input);
  if (a.includeTop) {
    x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
    x = denseLayer(a.seeds, {
      units: a.numClasses,
      activation: a.classifierActivation,
      name: 'predictions',
    }).apply(x) as tf.SymbolicTensor;
  } else if (a.pooling === 'avg') {
    x = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as tf.SymbolicTensor;
  } else if (a.pooling === 'max') {
    x = tf.layers.globalMaxPooling2d({ name: 'global_max_pooling2d' }).apply(x) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: x, name: 'inception_v3' });
}
