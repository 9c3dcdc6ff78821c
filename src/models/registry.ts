import type * as tf from '@tensorflow/tfjs';
import { type GoogLeNetArgs, googlenet } from './googlenet';

/** Builders the CLI's `--model NAME` can name. Every builder takes the same GoogLeNetArgs. */
export const MODEL_BUILDERS: Record<string, (args?: GoogLeNetArgs) => tf.LayersModel> = {
  googlenet,
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
