import * as tf from '@tensorflow/tfjs';
import {
  classifierHead,
  type GoogLeNetArgs,
  INCEPTION_TABLE,
  inceptionStage,
  maxPool2,
  resolveArgs,
  scaleFilters,
} from './googlenet';
import { convBnRelu } from './googlenet_bn';
import { convRelu } from './inception_module';
import { loadPretrainedWeights, PRETRAINED } from './pretrained';

export interface GoogLeNetCifarArgs extends GoogLeNetArgs {
  /** Conv → BN → ReLU everywhere (default true: trains much faster and better on CIFAR), else conv+ReLU. */
  batchNorm?: boolean;
  /**
   * A 3x3/2 max pool after the stem conv (default false), so inception 3 runs at 16x16, 4 at 8x8 and 5 at
   * 4x4 as in the ImageNet network's later stages: a quarter of the compute, for CPU training budgets.
   */
  stemPool?: boolean;
  /**
   * Pretrained weights: 'cifar10' (shipped with the package: width 0.5, stemPool, BN, 10 classes, 32x32;
   * those become the defaults, and other values are refused) or null (random initialisation, the default).
   */
  weights?: 'cifar10' | null;
}

/** Two stride-2 pools: 8x8 inputs still leave a 2x2 map for the last stage. */
export const CIFAR_MIN_INPUT_SIZE = 8;
/** Dropout before the classifier; a BN network on small images needs less than the paper's 0.4. */
export const CIFAR_DROPOUT = 0.2;

/**
 * GoogLeNet for 32x32 images (CIFAR), like kuangliu/pytorch-cifar's GoogLeNet: the ImageNet stem's four
 * stride-2 stages (which would leave a 2x2 map) are replaced by one 3x3 conv with 192 filters, then
 * inception 3a-3b at 32x32, 3x3/2 max pool, 4a-4e at 16x16, max pool, 5a-5b at 8x8, global average pool,
 * dropout, dense. The modules keep the paper's 5x5 branch (kuangliu uses two 3x3). Compute grows with
 * the square of `widthMultiplier`: 1.45 G multiply-adds per 32x32 image at width 1 (5.9M params),
 * 0.36 G at 0.5 (1.5M params), 0.20 G at 0.375, 0.09 G at 0.25.
 */
export function googlenetCifar(args: GoogLeNetCifarArgs = {}): tf.LayersModel {
  const weights = args.weights ?? null;
  if (weights !== null && weights !== 'cifar10') {
    throw new Error(`googlenet-cifar: weights must be 'cifar10' or null, got ${JSON.stringify(weights)}`);
  }
  if (weights === 'cifar10') {
    const model = googlenetCifar({ ...pretrainedArgs(args), weights: null });
    loadPretrainedWeights(model, 'cifar10', args.includeTop ?? true);
    return model;
  }
  const a = resolveArgs(
    'googlenet-cifar',
    { ...args, inputShape: args.inputShape ?? [32, 32, 3], dropout: args.dropout ?? CIFAR_DROPOUT },
    CIFAR_MIN_INPUT_SIZE,
  );
  const batchNorm = args.batchNorm ?? true;
  if (typeof batchNorm !== 'boolean') {
    throw new Error(`googlenet-cifar: batchNorm must be a boolean, got ${JSON.stringify(batchNorm)}`);
  }
  const stemPool = args.stemPool ?? false;
  if (typeof stemPool !== 'boolean') {
    throw new Error(`googlenet-cifar: stemPool must be a boolean, got ${JSON.stringify(stemPool)}`);
  }
  const conv = batchNorm ? convBnRelu : convRelu;
  const input = tf.input({ shape: a.inputShape, name: 'input' }); // 32x32x3
  let x = conv(input, scaleFilters(192, a.widthMultiplier), 3, 'conv_1_3x3_1', 1, a.seeds); // 32x32x192
  if (stemPool) x = maxPool2(x, 'max_pool_1_3x3_2'); // 16x16x192; the stages below then run at half size
  x = inceptionStage(x, INCEPTION_TABLE['3'], a.widthMultiplier, conv, undefined, a.seeds); // 32x32x480
  x = maxPool2(x, 'max_pool_3_3x3_2'); // 16x16x480
  x = inceptionStage(x, INCEPTION_TABLE['4'], a.widthMultiplier, conv, undefined, a.seeds); // 16x16x832
  x = maxPool2(x, 'max_pool_4_3x3_2'); // 8x8x832
  x = inceptionStage(x, INCEPTION_TABLE['5'], a.widthMultiplier, conv, undefined, a.seeds); // 8x8x1024
  const output = classifierHead(x, a, 'global_avg_pool'); // 1024 → numClasses
  return tf.model({ inputs: input, outputs: output, name: 'googlenet_cifar' });
}

/**
 * The arguments of the shipped 'cifar10' network, with the caller's where they agree. Like Keras's
 * applications: pretrained weights fix the architecture (and, with the classifier, the classes and input).
 */
function pretrainedArgs(args: GoogLeNetCifarArgs): GoogLeNetCifarArgs {
  const shipped = PRETRAINED.cifar10.args;
  const includeTop = args.includeTop ?? true;
  const check = (name: string, given: unknown, want: unknown) => {
    if (given !== undefined && JSON.stringify(given) !== JSON.stringify(want)) {
      throw new Error(
        `googlenet-cifar: weights 'cifar10' need ${name} ${JSON.stringify(want)}, got ${JSON.stringify(given)}`,
      );
    }
  };
  check('widthMultiplier', args.widthMultiplier, shipped.widthMultiplier);
  check('stemPool', args.stemPool, shipped.stemPool);
  check('batchNorm', args.batchNorm, shipped.batchNorm);
  if (includeTop) {
    check('numClasses (with includeTop)', args.numClasses, shipped.numClasses);
    check('inputShape (with includeTop)', args.inputShape, shipped.inputShape);
  }
  return {
    ...args,
    widthMultiplier: shipped.widthMultiplier,
    stemPool: shipped.stemPool,
    batchNorm: shipped.batchNorm,
    numClasses: includeTop ? shipped.numClasses : args.numClasses,
    inputShape: args.inputShape ?? shipped.inputShape,
  };
}
