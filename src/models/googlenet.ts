import * as tf from '@tensorflow/tfjs';
import { dropout } from '../layers/dropout';
import { type ConvBlock, convRelu, type InceptionFilters, inceptionModule } from './inception_module';
import { type LayerSeeds, layerSeeds } from './layer_seeds';

/** Options shared by every builder of the family (Keras `applications` style). */
export interface GoogLeNetArgs {
  /** Input height, width, channels (NHWC). Default [224, 224, 3]. */
  inputShape?: [number, number, number];
  /** Number of classes of the softmax head. Default 10 (the notebook's `n_classes`). */
  numClasses?: number;
  /** Dropout rate before the classifier. Default 0.5. */
  dropout?: number;
  /** Scales every filter count (rounded, at least 1): 0.25 trains a narrow copy of the same topology. */
  widthMultiplier?: number;
  /** Keep the classifier head (GAP → dropout → dense). Default true. */
  includeTop?: boolean;
  /**
   * Without the top (Keras `applications`): undefined returns the last stage's 4-D feature map, 'avg' its
   * global average pool, 'max' its global max pool (one feature vector per image). Ignored with the top.
   */
  pooling?: 'avg' | 'max';
  /** Activation of the head: 'softmax' (default) or 'linear' for logits. */
  classifierActivation?: 'softmax' | 'linear';
  /**
   * Seeds every random initialiser and dropout layer (an integer in [0, 2^32)): the same seed builds the same
   * weights and, in training, draws the same dropout masks; each layer gets its own seed derived from it.
   * Default: unseeded (tfjs's Math.random).
   */
  seed?: number;
}

/** Inception modules of GoogLeNet, Table 1 of Szegedy et al. 2014: [name, 1x1, 3x3red, 3x3, 5x5red, 5x5, poolproj]. */
export type ModuleRow = [string, number, number, number, number, number, number];
export const INCEPTION_TABLE: Record<'3' | '4' | '5', ModuleRow[]> = {
  '3': [
    ['inception_3a', 64, 96, 128, 16, 32, 32], // 28x28x256
    ['inception_3b', 128, 128, 192, 32, 96, 64], // 28x28x480
  ],
  '4': [
    ['inception_4a', 192, 96, 208, 16, 48, 64], // 14x14x512
    ['inception_4b', 160, 112, 224, 24, 64, 64], // 14x14x512
    ['inception_4c', 128, 128, 256, 24, 64, 64], // 14x14x512
    ['inception_4d', 112, 144, 288, 32, 64, 64], // 14x14x528
    ['inception_4e', 256, 160, 320, 32, 128, 128], // 14x14x832
  ],
  '5': [
    ['inception_5a', 256, 160, 320, 32, 128, 128], // 7x7x832
    ['inception_5b', 384, 192, 384, 48, 128, 128], // 7x7x1024
  ],
};

/** Stride-2 stages between input and the global pool: the input must survive five halvings. */
export const MIN_INPUT_SIZE = 32;

/**
 * The builders' defaults for what the notebook's `googlenet(in_shape=(224,224,3), n_classes=10)` sets.
 * Frozen: callers copy the shape (`[...inputShape]`) rather than share it.
 */
export const GOOGLENET_DEFAULTS = Object.freeze({
  inputShape: Object.freeze([224, 224, 3] as const),
  numClasses: 10,
  dropout: 0.5,
  widthMultiplier: 1,
});

/** A fresh copy of the default input shape. */
export function defaultInputShape(): [number, number, number] {
  return [...GOOGLENET_DEFAULTS.inputShape];
}

export interface ResolvedArgs {
  inputShape: [number, number, number];
  numClasses: number;
  dropout: number;
  widthMultiplier: number;
  includeTop: boolean;
  pooling: 'avg' | 'max' | undefined;
  classifierActivation: 'softmax' | 'linear';
  /** Where the builder's layers take their seeds from, in build order (unseeded without `seed`). */
  seeds: LayerSeeds;
}

/** Validates builder options up front, echoing the bad value (Keras `applications` style). */
export function resolveArgs(builder: string, args: GoogLeNetArgs, minInput = MIN_INPUT_SIZE): ResolvedArgs {
  const inputShape = args.inputShape ?? defaultInputShape();
  const numClasses = args.numClasses ?? GOOGLENET_DEFAULTS.numClasses;
  const dropout = args.dropout ?? GOOGLENET_DEFAULTS.dropout;
  const widthMultiplier = args.widthMultiplier ?? GOOGLENET_DEFAULTS.widthMultiplier;
  const includeTop = args.includeTop ?? true;
  const classifierActivation = args.classifierActivation ?? 'softmax';
  const pooling = args.pooling ?? undefined;
  if (pooling !== undefined && pooling !== 'avg' && pooling !== 'max') {
    throw new Error(`${builder}: pooling must be 'avg', 'max' or undefined, got ${JSON.stringify(pooling)}`);
  }
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new Error(
      `${builder}: inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`,
    );
  }
  if (inputShape[0] < minInput || inputShape[1] < minInput) {
    throw new Error(
      `${builder}: inputShape ${JSON.stringify(inputShape)} is too small: height and width must be at least ${minInput} to survive the network's stride-2 stages`,
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`${builder}: numClasses must be an integer >= 2, got ${JSON.stringify(numClasses)}`);
  }
  if (!(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) {
    throw new Error(`${builder}: dropout must be in [0, 1), got ${JSON.stringify(dropout)}`);
  }
  if (!(typeof widthMultiplier === 'number' && Number.isFinite(widthMultiplier) && widthMultiplier > 0)) {
    throw new Error(
      `${builder}: widthMultiplier must be a positive number, got ${JSON.stringify(widthMultiplier)}`,
    );
  }
  if (classifierActivation !== 'softmax' && classifierActivation !== 'linear') {
    throw new Error(
      `${builder}: classifierActivation must be 'softmax' or 'linear', got ${JSON.stringify(classifierActivation)}`,
    );
  }
  const seeds = layerSeeds(builder, args.seed);
  return {
    inputShape,
    numClasses,
    dropout,
    widthMultiplier,
    includeTop,
    pooling,
    classifierActivation,
    seeds,
  };
}

/** A filter count scaled by the width multiplier: rounded, at least 1. */
export function scaleFilters(filters: number, widthMultiplier: number): number {
  return Math.max(1, Math.round(filters * widthMultiplier));
}

/** One row of INCEPTION_TABLE as scaled filter counts. */
export function moduleFilters(row: ModuleRow, widthMultiplier: number): InceptionFilters {
  const [, f1, f3r, f3, f5r, f5, fp] = row.map((v) =>
    typeof v === 'number' ? scaleFilters(v, widthMultiplier) : v,
  ) as ModuleRow;
  return {
    filters1x1: f1,
    filters3x3Reduce: f3r,
    filters3x3: f3,
    filters5x5Reduce: f5r,
    filters5x5: f5,
    filtersPoolReduce: fp,
  };
}

/** Sees the output of each inception module as it is built (the paper's auxiliary heads tap 4a and 4d). */
export type ModuleTap = (name: string, output: tf.SymbolicTensor) => void;

/** Applies the rows of one stage of INCEPTION_TABLE in order. */
export function inceptionStage(
  x: tf.SymbolicTensor,
  rows: ModuleRow[],
  widthMultiplier: number,
  conv: ConvBlock = convRelu,
  onModule?: ModuleTap,
  seeds?: LayerSeeds,
): tf.SymbolicTensor {
  for (const row of rows) {
    x = inceptionModule(x, moduleFilters(row, widthMultiplier), row[0], conv, seeds);
    onModule?.(row[0], x);
  }
  return x;
}

/** 3x3 stride-2 `same` max pool between stages. */
export function maxPool2(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers
    .maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name })
    .apply(x) as tf.SymbolicTensor;
}

/** Dropout → dense classifier on pooled features: layers `${prefix}dropout` and `${prefix}output`. */
export function dropoutDense(
  x: tf.SymbolicTensor,
  a: Pick<ResolvedArgs, 'numClasses' | 'classifierActivation' | 'seeds'>,
  rate: number,
  prefix = '',
): tf.SymbolicTensor {
  x = dropout({ rate, name: `${prefix}dropout`, seed: a.seeds.next() }).apply(x) as tf.SymbolicTensor;
  return denseLayer(a.seeds, {
    units: a.numClasses,
    activation: a.classifierActivation,
    name: `${prefix}output`,
  }).apply(x) as tf.SymbolicTensor;
}

/** `tf.layers.dense` with its (Glorot-uniform, tfjs's default) kernel initialiser seeded from `seeds`. */
export function denseLayer(
  seeds: LayerSeeds,
  args: Parameters<typeof tf.layers.dense>[0],
): ReturnType<typeof tf.layers.dense> {
  return tf.layers.dense({
    kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }),
    ...args,
  });
}

/**
 * Global average pool → dropout → dense classifier, named as in the notebook. Without the top, what
 * `pooling` asks for: the feature map as is, its global average pool (`poolName`) or its global max pool.
 */
export function classifierHead(
  x: tf.SymbolicTensor,
  a: ResolvedArgs,
  poolName = 'avg_pool_5_3x3_1',
): tf.SymbolicTensor {
  if (!a.includeTop) return featurePool(x, a.pooling, poolName);
  x = tf.layers.globalAveragePooling2d({ name: poolName }).apply(x) as tf.SymbolicTensor;
  return dropoutDense(x, a, a.dropout);
}

/** The feature map as is (pooling undefined), or its global average / max pool: Keras's `pooling`. */
export function featurePool(
  x: tf.SymbolicTensor,
  pooling: 'avg' | 'max' | undefined,
  avgPoolName: string,
): tf.SymbolicTensor {
  if (pooling === 'avg') {
    return tf.layers.globalAveragePooling2d({ name: avgPoolName }).apply(x) as tf.SymbolicTensor;
  }
  if (pooling === 'max') {
    return tf.layers.globalMaxPooling2d({ name: 'global_max_pool' }).apply(x) as tf.SymbolicTensor;
  }
  return x;
}

/** How a builder varies the shared GoogLeNet body, from the input to inception_5b. */
export interface BodyOptions {
  /** The convolution block used everywhere. Default: the notebook's conv + bias + ReLU. */
  conv?: ConvBlock;
  /** Inserted after max_pool_1 and after conv_2b under the given name (the paper's LRN). Default: none. */
  norm?: (x: tf.SymbolicTensor, name: string) => tf.SymbolicTensor;
  /** Sees each inception module's output. */
  onModule?: ModuleTap;
  /** Seeds of the random initialisers, drawn in build order. Default: unseeded. */
  seeds?: LayerSeeds;
  /** The 3x3 stride-2 max pools between stages. Default: `maxPool2` (`same` padding). */
  pool?: (x: tf.SymbolicTensor, name: string) => tf.SymbolicTensor;
}

/** The ImageNet-style GoogLeNet body: stride-2 stem, inception 3a-5b; 224x224 → 7x7x1024 at width 1. */
export function googlenetBody(
  input: tf.SymbolicTensor,
  widthMultiplier: number,
  { conv = convRelu, norm, onModule, seeds, pool = maxPool2 }: BodyOptions = {},
): tf.SymbolicTensor {
  const w = (f: number) => scaleFilters(f, widthMultiplier);
  let x = conv(input, w(64), 7, 'conv_1_7x7_2', 2, seeds); // 112x112x64
  x = pool(x, 'max_pool_1_3x3_2'); // 56x56x64
  if (norm) x = norm(x, 'lrn_1');
  x = conv(x, w(64), 1, 'conv_2a_3x3_1', 1, seeds); // 56x56x64
  x = conv(x, w(192), 3, 'conv_2b_3x3_1', 1, seeds); // 56x56x192
  if (norm) x = norm(x, 'lrn_2');
  x = pool(x, 'max_pool_2_3x3_2'); // 28x28x192
  x = inceptionStage(x, INCEPTION_TABLE['3'], widthMultiplier, conv, onModule, seeds); // 28x28x480
  x = pool(x, 'max_pool_3_3x3_2'); // 14x14x480
  x = inceptionStage(x, INCEPTION_TABLE['4'], widthMultiplier, conv, onModule, seeds); // 14x14x832
  x = pool(x, 'max_pool_4_3x3_2'); // 7x7x832
  return inceptionStage(x, INCEPTION_TABLE['5'], widthMultiplier, conv, onModule, seeds); // 7x7x1024
}

/**
 * GoogLeNet exactly as the Keras notebook builds it (`googlenet(in_shape=(224,224,3), n_classes=10)`):
 * 5,983,802 parameters at the defaults.
 *
 * Deviations from the paper, kept because they are the notebook's: no LRN, no auxiliary classifiers,
 * global average pooling instead of the 7x7 average pool, every pooling layer `same`-padded, and
 * `conv_2a_3x3_1` is a 1x1 convolution despite its name (the paper's 3x3 reduce). See `googlenetPaper` for
 * the published network.
 */
export function googlenet(args: GoogLeNetArgs = {}): tf.LayersModel {
  const a = resolveArgs('googlenet', args);
  const input = tf.input({ shape: a.inputShape, name: 'input' }); // 224x224x3
  const x = googlenetBody(input, a.widthMultiplier, { seeds: a.seeds }); // 7x7x1024
  const output = classifierHead(x, a); // 1024 → numClasses
  return tf.model({ inputs: input, outputs: output, name: 'googlenet' });
}
