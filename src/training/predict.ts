import * as tf from '@tensorflow/tfjs';
import { decodeImageTensor } from '../data/decode';
import { classProbabilities, type InferenceOptions } from '../inference/classify';
import { checkPrecision } from '../inference/planned';
import { checkModelMatchesInfo, type ModelInfo } from '../io/model_folder';

import { DEFAULT_TOP_K, type Prediction, topK } from '../models/top_k';

/** One class of a prediction: label, output index and probability. */
export type LabelProbability = Prediction;

export interface ImagePrediction {
  file: string;
  /** The top-k labels, most probable first. */
  top: LabelProbability[];
}

/**
 * Classifies image files (JPEG or PNG, any size: resized and normalised as preprocessing.json says) with a
 * loaded model folder; errors name the file. All images are decoded before any is reported. `options`
 * picks the planned path's precision (fp32 default; bf16, int8 with the folder's calibrated ranges).
 */
export async function predictImages(
  model: tf.LayersModel,
  info: ModelInfo,
  files: string[],
  k = DEFAULT_TOP_K,
  options: InferenceOptions = {},
): Promise<ImagePrediction[]> {
  if (!(Number.isInteger(k) && k >= 1))
    throw new Error(`top k must be an integer >= 1, got ${JSON.stringify(k)}`);
  checkModelMatchesInfo(model, info);
  checkPrecision(model, options);
  const inputs: tf.Tensor4D[] = [];
  try {
    for (const file of files) inputs.push(await decodeImageTensor(file, info.preprocessing));
    const results: ImagePrediction[] = [];
    for (const [i, x] of inputs.entries()) {
      const row = await classProbabilities(model, x, [files[i]], options);
      results.push({ file: files[i], top: topK(row, info.labels, k) });
    }
    return results;
  } finally {
    tf.dispose(inputs);
  }
}
