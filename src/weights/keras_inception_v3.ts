import type * as tf from '@tensorflow/tfjs';

// Placeholder so this branch compiles: branch keras-v3's file replaces this one at merge.
export async function loadKerasInceptionV3Weights(_model: tf.LayersModel, file: string): Promise<void> {
  throw new Error(`${file}: this build has no reader for it yet (branch keras-v3 adds it)`);
}
