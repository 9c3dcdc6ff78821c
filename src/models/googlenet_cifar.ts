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

export interface GoogLeNetCifarArgs extends GoogLeNetArgs {
  /** Conv → BN → ReLU everywhere (default true: trains much faster and better on CIFAR), else conv+ReLU. */
  batchNorm?: boolean;
  /** Pretrained weights: 'cifar10' (not shipped yet) or null (random initialisation, the default). */
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
  const a = resolveArgs(
    'googlenet-cifar',
    { ...args, inputShape: args.inputShape ?? [32, 32, 3], dropout: args.dropout ?? CIFAR_DROPOUT },
    CIFAR_MIN_INPUT_SIZE,
  );
  const batchNorm = args.batchNorm ?? true;
  if (typeof batchNorm !== 'boolean') {
    throw new Error(`googlenet-cifar: batchNorm must be a boolean, got ${JSON.stringify(batchNorm)}`);
  }
  const weights = args.weights ?? null;
  if (weights === 'cifar10') {
    throw new Error("googlenet-cifar: weights 'cifar10' are not shipped yet; pass weights: null and train");
  }
  if (weights !== null) {
    throw new Error(`googlenet-cifar: weights must be 'cifar10' or null, got ${JSON.stringify(weights)}`);
  }
  const conv = batchNorm ? convBnRelu : convRelu;
  const input = tf.input({ shape: a.inputShape, name: 'input' }); // 32x32x3
  let x = conv(input, scaleFilters(192, a.widthMultiplier), 3, 'conv_1_3x3_1'); // 32x32x192
  x = inceptionStage(x, INCEPTION_TABLE['3'], a.widthMultiplier, conv); // 32x32x480
  x = maxPool2(x, 'max_pool_3_3x3_2'); // 16x16x480
  x = inceptionStage(x, INCEPTION_TABLE['4'], a.widthMultiplier, conv); // 16x16x832
  x = maxPool2(x, 'max_pool_4_3x3_2'); // 8x8x832
  x = inceptionStage(x, INCEPTION_TABLE['5'], a.widthMultiplier, conv); // 8x8x1024
  const output = classifierHead(x, a, 'global_avg_pool'); // 1024 → numClasses
  return tf.model({ inputs: input, outputs: output, name: 'googlenet_cifar' });
}
