import type * as tf from '@tensorflow/tfjs';

// Placeholder so this branch compiles: branch tv-googlenet's file replaces this one at merge.
export async function loadTorchvisionGoogLeNetWeights(_model: tf.LayersModel, file: string): Promise<void> {
  throw new Error(`${file}: this build has no reader for it yet (branch tv-googlenet adds it)`);
}
