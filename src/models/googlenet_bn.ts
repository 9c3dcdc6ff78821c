import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../layers/batch_normalization';
import { conv2d } from '../layers/conv2d';
import { classifierHead, type GoogLeNetArgs, googlenetBody, resolveArgs } from './googlenet';
import type { ConvBlock } from './inception_module';

/**
 * Batch normalisation settings: torchvision's GoogLeNet/Inception (epsilon 1e-3, PyTorch momentum 0.1), i.e.
 * Keras momentum 0.9, not the Keras default 0.99. With 0.99 the moving statistics need a few hundred steps to
 * forget their initial 0/1: a short run (a demo, a first epoch, a small dataset) then evaluates far worse than
 * it trains (seen here: 100% training accuracy, 33% in inference mode after 24 steps).
 */
export const BN_MOMENTUM = 0.9;
export const BN_EPSILON = 1e-3;

/**
 * Conv2D without bias (BN's beta is the bias) → BatchNormalization → ReLU, `same` padding, as in
 * BN-Inception and torchvision's `BasicConv2d`. The layers are `${name}_conv`, `${name}_bn` and `name`
 * (the ReLU), so the block's output carries the same name as the notebook's conv+ReLU layer and
 * `inceptionModule`'s layer names stay as documented.
 */
export const convBnRelu: ConvBlock = (x, filters, kernelSize, name, strides = 1, seeds) => {
  const inner = (suffix: string) => (name ? `${name}_${suffix}` : undefined);
  let y = conv2d({
    filters,
    kernelSize,
    strides,
    padding: 'same',
    useBias: false,
    kernelInitializer: tf.initializers.heNormal({ seed: seeds?.next() }),
    name: inner('conv'),
  }).apply(x) as tf.SymbolicTensor;
  y = batchNormalization({ axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON, name: inner('bn') }).apply(
    y,
  ) as tf.SymbolicTensor;
  return tf.layers.activation({ activation: 'relu', name }).apply(y) as tf.SymbolicTensor;
};

/**
 * GoogLeNet with batch normalisation after every convolution (conv without bias → BN → ReLU), the
 * notebook's topology otherwise (no LRN: BN replaces it, as in BN-Inception and torchvision). Each BN
 * layer holds 2 trainable (gamma, beta) and 2 non-trainable (moving mean and variance) values per
 * channel; `summary` reports the latter as non-trainable params.
 */
export function googlenetBN(args: GoogLeNetArgs = {}): tf.LayersModel {
  const a = resolveArgs('googlenet-bn', args);
  const input = tf.input({ shape: a.inputShape, name: 'input' }); // 224x224x3
  const x = googlenetBody(input, a.widthMultiplier, { conv: convBnRelu, seeds: a.seeds }); // 7x7x1024
  return tf.model({ inputs: input, outputs: classifierHead(x, a), name: 'googlenet_bn' });
}
