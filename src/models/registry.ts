import type * as tf from '@tensorflow/tfjs';
import { type GoogLeNetArgs, googlenet } from './googlenet';
import { googlenetBN } from './googlenet_bn';
import { googlenetCifar } from './googlenet_cifar';
import { googlenetPaper } from './googlenet_paper';
import { googlenetTorchvision } from './googlenet_torchvision';
import { inceptionV3 } from './inception_v3';

/** The builder `--model` and trainImageClassifier use when none is named: the notebook's network. */
export const DEFAULT_MODEL = 'googlenet';

/** Builders the CLI's `--model NAME` can name. Every builder takes the same GoogLeNetArgs. */
export const MODEL_BUILDERS: Record<string, (args?: GoogLeNetArgs) => tf.LayersModel> = {
  googlenet,
  'googlenet-paper': googlenetPaper,
  'googlenet-bn': googlenetBN,
  'googlenet-cifar': googlenetCifar,
  'googlenet-torchvision': googlenetTorchvision,
  'inception-v3': inceptionV3,
};

/** Input shape a CLI command uses for a builder when neither --input-shape nor --input-size is given. */
export const DEFAULT_INPUT_SHAPES: Record<string, [number, number, number]> = {
  'googlenet-cifar': [32, 32, 3],
  'inception-v3': [299, 299, 3],
};

export function buildModel(name: string, args: GoogLeNetArgs = {}): tf.LayersModel {
  const builder = MODEL_BUILDERS[name];
  if (!builder) {
    throw new Error(
      `unknown model ${JSON.stringify(name)}; known models: ${Object.keys(MODEL_BUILDERS).join(', ')}`,
    );
  }
  return builder(args);
}
