import * as tf from '@tensorflow/tfjs';
import { adaptiveAveragePooling2d } from '../layers/adaptive_average_pooling';
import { batchNormalization } from '../layers/batch_normalization';
import { channelAffine } from '../layers/channel_affine';
import { conv2d } from '../layers/conv2d';
import { dropout } from '../layers/dropout';
import { ceilModeMaxPool } from './explicit_padding';
import {
  type GoogLeNetArgs,
  INCEPTION_TABLE,
  type ResolvedArgs,
  resolveArgs,
  scaleFilters,
} from './googlenet';
import { BN_EPSILON, BN_MOMENTUM } from './googlenet_bn';
import { AUX_OUTPUTS } from './googlenet_paper';
import type { LayerSeeds } from './layer_seeds';

export interface GoogLeNetTorchvisionArgs extends GoogLeNetArgs {
  /**
   * torchvision's `transform_input`: the model takes ImageNet-normalised input ((x - mean) / std with
   * torchvision's mean and std) and turns it into the (x - 0.5) / 0.5 space its first convolution was trained
   * in. torchvision's pretrained GoogLeNet (IMAGENET1K_V1, ported from TensorFlow) sets it: its weights expect
   * either this option with ImageNet normalisation, or, equivalently, input scaled to [-1, 1] without it.
   * Default false (torchvision's class default).
   */
  transformInput?: boolean;
  /**
   * Add torchvision's two auxiliary heads (InceptionAux after inception4a and inception4d) and return the
   * 3-output training model [output, aux_1_output, aux_2_output] (torchvision returns (logits, aux2, aux1)),
   * as `googlenet-paper`'s `auxClassifiers` does: train it with `compileWithAuxLosses`, and evaluate, predict
   * and export `inferenceModel(model)`. Default false.
   */
  auxLogits?: boolean;
}

/** torchvision's defaults: dropout before fc, and in the auxiliary heads (`dropout`, `dropout_aux`). */
export const TORCHVISION_DROPOUT = 0.2;
export const TORCHVISION_AUX_DROPOUT = 0.7;
/** torchvision GoogLeNet's `num_classes` default, and Keras applications' `classes`. */
export const TORCHVISION_CLASSES = 1000;
/** torchvision's `min_size` for GoogLeNet: the smallest input every ceil-mode pool still accepts. */
export const TORCHVISION_MIN_INPUT = 15;
/** torchvision's ImageNet normalisation (the input `transform_input` expects). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** `transform_input`: x * std / 0.5 + (mean - 0.5) / 0.5 per channel, as torchvision computes it. */
export const TRANSFORM_INPUT = {
  scale: IMAGENET_STD.map((s) => s / 0.5),
  offset: IMAGENET_MEAN.map((m) => (m - 0.5) / 0.5),
};

/** torchvision's `init_weights`: conv and linear weights ~ N(0, 0.01) truncated at ±2 (200 sigma: never). */
function weightInitializer(seeds: LayerSeeds) {
  return tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: seeds.next() });
}

/** A PyTorch Linear's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
function linearBiasInitializer(fanIn: number, seeds: LayerSeeds) {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: seeds.next() });
}

/**
 * torchvision's BasicConv2d at module path `name` (dots as underscores): conv without bias (`NAME_conv`),
 * BatchNorm eps 1e-3 (`NAME_bn`), ReLU (`NAME`). Symmetric padding `p` as torch pads: 'same' where tfjs pads
 * the same way (stride 1, odd kernel, p = (k - 1) / 2), else explicit zeros (`NAME_pad`) and 'valid'.
 */
function basicConv2d(
  x: tf.SymbolicTensor,
  filters: number,
  kernelSize: number,
  name: string,
  seeds: LayerSeeds,
  { stride = 1, padding = 0 } = {},
): tf.SymbolicTensor {
  let mode: 'same' | 'valid' = 'valid';
  if (padding > 0 && stride === 1 && 2 * padding === kernelSize - 1) {
    mode = 'same';
  } else if (padding > 0) {
    x = tf.layers.zeroPadding2d({ padding, name: `${name}_pad` }).apply(x) as tf.SymbolicTensor;
  }
  let y = conv2d({
    filters,
    kernelSize,
    strides: stride,
    padding: mode,
    useBias: false,
    kernelInitializer: weightInitializer(seeds),
    name: `${name}_conv`,
  }).apply(x) as tf.SymbolicTensor;
  y = batchNormalization({ axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON, name: `${name}_bn` }).apply(
    y,
  ) as tf.SymbolicTensor;
  return tf.layers.activation({ activation: 'relu', name }).apply(y) as tf.SymbolicTensor;
}

/**
 * torchvision's `Inception`: branch1 1x1 | branch2 1x1 → 3x3 | branch3 1x1 → 3x3 (the paper's 5x5, a 3x3 in
 * torchvision: pytorch/vision#906) | branch4 3x3/1 ceil-mode max pool → 1x1, concatenated as `name`.
 */
function inception(
  x: tf.SymbolicTensor,
  name: string,
  [f1, f3r, f3, f5r, f5, fp]: number[],
  seeds: LayerSeeds,
): tf.SymbolicTensor {
  const b1 = basicConv2d(x, f1, 1, `${name}_branch1`, seeds);
  let b2 = basicConv2d(x, f3r, 1, `${name}_branch2_0`, seeds);
  b2 = basicConv2d(b2, f3, 3, `${name}_branch2_1`, seeds, { padding: 1 });
  let b3 = basicConv2d(x, f5r, 1, `${name}_branch3_0`, seeds);
  b3 = basicConv2d(b3, f5, 3, `${name}_branch3_1`, seeds, { padding: 1 });
  let b4 = ceilModeMaxPool(x, 3, 1, `${name}_branch4_0`, 1);
  b4 = basicConv2d(b4, fp, 1, `${name}_branch4_1`, seeds);
  return tf.layers.concatenate({ axis: 3, name }).apply([b1, b2, b3, b4]) as tf.SymbolicTensor;
}

/** A Linear layer at module path `name`, initialised as torchvision's `init_weights` leaves it. */
function linear(
  x: tf.SymbolicTensor,
  units: number,
  name: string,
  seeds: LayerSeeds,
  activation: 'relu' | 'linear' | 'softmax' = 'linear',
): tf.SymbolicTensor {
  const fanIn = (x.shape as number[])[1];
  return tf.layers
    .dense({
      units,
      activation,
      kernelInitializer: weightInitializer(seeds),
      biasInitializer: linearBiasInitializer(fanIn, seeds),
      name,
    })
    .apply(x) as tf.SymbolicTensor;
}

/**
 * torchvision's `InceptionAux` (`aux1`, `aux2`): adaptive average pool to 4x4, BasicConv2d 1x1 128, flatten
 * (NHWC order here, NCHW in torch: the weights loader permutes fc1's rows), fc1 1024 + ReLU, dropout 0.7,
 * fc2; its output layer is `aux_N_output` so that `compileWithAuxLosses` and `inferenceModel` apply.
 */
function auxHead(x: tf.SymbolicTensor, index: 1 | 2, a: ResolvedArgs): tf.SymbolicTensor {
  const name = `aux${index}`;
  x = adaptiveAveragePooling2d({ outputSize: [4, 4], name: `${name}_avgpool` }).apply(x) as tf.SymbolicTensor;
  x = basicConv2d(x, scaleFilters(128, a.widthMultiplier), 1, `${name}_conv`, a.seeds);
  x = tf.layers.flatten({ name: `${name}_flatten` }).apply(x) as tf.SymbolicTensor;
  x = linear(x, scaleFilters(1024, a.widthMultiplier), `${name}_fc1`, a.seeds, 'relu');
  x = dropout({ rate: TORCHVISION_AUX_DROPOUT, name: `${name}_dropout`, seed: a.seeds.next() }).apply(
    x,
  ) as tf.SymbolicTensor;
  x = linear(x, a.numClasses, `${name}_fc2`, a.seeds);
  return tf.layers
    .activation({ activation: a.classifierActivation, name: AUX_OUTPUTS[index - 1] })
    .apply(x) as tf.SymbolicTensor;
}

/**
 * torchvision 0.14's `googlenet` (GoogLeNet / Inception v1 as torchvision builds it), layer for layer and
 * parameter for parameter, in NHWC: 6,624,904 trainable parameters at 1000 classes (torchvision's
 * `num_params`, which counts `parameters()`: conv, BN weight/bias, fc) plus 14,560 non-trainable BN running
 * statistics; 13,004,888 trainable with `auxLogits`.
 *
 * Every layer is named after its torchvision module path with `_` for `.` (`inception3a.branch2.1.conv` →
 * `inception3a_branch2_1_conv`), so a state_dict key names its layer (see loadTorchvisionGoogLeNetWeights).
 * Layers torch does not have as modules: `transform_input`, `conv1_pad` (torch pads inside the conv), and
 * `*_pad` before a ceil-mode pool on odd non-square inputs.
 *
 * Keras `applications` signature: numClasses defaults to 1000, dropout to 0.2, the head is softmax unless
 * `classifierActivation: 'linear'` (torchvision's module returns logits).
 */
export function googlenetTorchvision(args: GoogLeNetTorchvisionArgs = {}): tf.LayersModel {
  const a = resolveArgs(
    'googlenet-torchvision',
    {
      ...args,
      numClasses: args.numClasses ?? TORCHVISION_CLASSES,
      dropout: args.dropout ?? TORCHVISION_DROPOUT,
    },
    TORCHVISION_MIN_INPUT,
  );
  const { transformInput = false, auxLogits = false } = args;
  for (const [key, value] of [
    ['transformInput', transformInput],
    ['auxLogits', auxLogits],
  ] as const) {
    if (typeof value !== 'boolean') {
      throw new Error(`googlenet-torchvision: ${key} must be a boolean, got ${JSON.stringify(value)}`);
    }
  }
  if (auxLogits && !a.includeTop) {
    throw new Error(
      'googlenet-torchvision: auxLogits needs includeTop (the auxiliary heads are classifiers)',
    );
  }
  if (transformInput && a.inputShape[2] !== 3) {
    throw new Error(`googlenet-torchvision: transformInput needs 3 input channels, got ${a.inputShape[2]}`);
  }
  const f = (n: number) => scaleFilters(n, a.widthMultiplier);
  const { seeds } = a;
  const input = tf.input({ shape: a.inputShape, name: 'input' });
  let x = input;
  if (transformInput)
    x = channelAffine({ ...TRANSFORM_INPUT, name: 'transform_input' }).apply(x) as tf.SymbolicTensor;
  x = basicConv2d(x, f(64), 7, 'conv1', seeds, { stride: 2, padding: 3 }); // 112x112x64
  x = ceilModeMaxPool(x, 3, 2, 'maxpool1'); // 56x56x64
  x = basicConv2d(x, f(64), 1, 'conv2', seeds);
  x = basicConv2d(x, f(192), 3, 'conv3', seeds, { padding: 1 }); // 56x56x192
  x = ceilModeMaxPool(x, 3, 2, 'maxpool2'); // 28x28x192
  const aux: tf.SymbolicTensor[] = [];
  const stage = (rows: (typeof INCEPTION_TABLE)['3']) => {
    for (const [tableName, ...filters] of rows) {
      const name = tableName.replace('_', ''); // inception_3a → inception3a
      x = inception(x, name, filters.map(f), seeds);
      if (auxLogits && name === 'inception4a') aux.push(auxHead(x, 1, a));
      if (auxLogits && name === 'inception4d') aux.push(auxHead(x, 2, a));
    }
  };
  stage(INCEPTION_TABLE['3']); // 28x28x480
  x = ceilModeMaxPool(x, 3, 2, 'maxpool3'); // 14x14x480
  stage(INCEPTION_TABLE['4']); // 14x14x832
  x = ceilModeMaxPool(x, 2, 2, 'maxpool4'); // 7x7x832
  stage(INCEPTION_TABLE['5']); // 7x7x1024
  let output = x;
  if (a.includeTop || a.pooling === 'avg') {
    output = tf.layers.globalAveragePooling2d({ name: 'avgpool' }).apply(x) as tf.SymbolicTensor;
  } else if (a.pooling === 'max') {
    output = tf.layers.globalMaxPooling2d({ name: 'maxpool' }).apply(x) as tf.SymbolicTensor;
  }
  if (a.includeTop) {
    output = dropout({ rate: a.dropout, name: 'dropout', seed: seeds.next() }).apply(
      output,
    ) as tf.SymbolicTensor;
    output = linear(output, a.numClasses, 'fc', seeds, a.classifierActivation);
  }
  return tf.model({
    inputs: input,
    outputs: auxLogits ? [output, ...aux] : output,
    name: auxLogits ? 'googlenet_torchvision_training' : 'googlenet_torchvision',
  });
}
