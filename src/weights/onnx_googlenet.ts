import type * as tf from '@tensorflow/tfjs';

// Placeholder so this branch compiles: branch onnx-paper's file replaces this one at merge.
export async function loadOnnxGoogLeNetWeights(_model: tf.LayersModel, file: string): Promise<void> {
  throw new Error(`${file}: this build has no reader for it yet (branch onnx-paper adds it)`);
}
