import * as tf from '@tensorflow/tfjs';
import { batches } from '../data/batches';
import { ImageFolderDataset } from '../data/image_folder';
import type { BadFilePolicy } from '../data/types';
import { classProbabilities, type InferenceOptions } from '../inference/classify';
import { checkPrecision } from '../inference/planned';
import { loadModelFolder, type ModelInfo } from '../io/model_folder';
import { folderPrecision } from '../quantize/precision';

/** What evaluateModelFolder (and so `inception evaluate`) uses for an option it is not given. */
export const EVALUATE_DEFAULTS = { batchSize: 32 };

export interface ClassReport {
  label: string;
  images: number;
  correct: number;
  /** correct / images (NaN-free: 0 for an empty class). */
  accuracy: number;
}

/** What `inception evaluate` reports. */
export interface EvaluationReport {
  modelDir: string;
  dataDir: string;
  images: number;
  /** Mean categorical cross-entropy (probabilities clipped to [1e-7, 1 - 1e-7], as Keras). */
  loss: number;
  /** Top-1 accuracy. */
  accuracy: number;
  /** Top-5 accuracy; null with fewer than 5 classes (where it is always 1). */
  top5: number | null;
  labels: string[];
  perClass: ClassReport[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Files skipped as undecodable (onBadFile 'skip'). */
  skipped: number;
}

const EPSILON = 1e-7;

/** Accumulates predictions against labels into the report's numbers. */
export function scorePredictions(
  probabilities: Float32Array,
  labels: number[],
  numClasses: number,
  acc: { loss: number; top1: number; top5: number; confusion: number[][] },
): void {
  labels.forEach((label, i) => {
    const row = probabilities.subarray(i * numClasses, (i + 1) * numClasses);
    const p = Math.min(Math.max(row[label], EPSILON), 1 - EPSILON);
    acc.loss -= Math.log(p);
    let predicted = 0;
    let higher = 0;
    for (let k = 0; k < numClasses; k++) {
      if (row[k] > row[predicted]) predicted = k;
      if (row[k] > row[label]) higher++;
    }
    if (predicted === label) acc.top1++;
    if (higher < 5) acc.top5++;
    acc.confusion[label][predicted]++;
  });
}

/**
 * Evaluates a model folder on an image folder whose class folders are the model's labels: loss, top-1,
 * top-5, per-class accuracy and the confusion matrix, preprocessing as saved with the model. A quantized
 * folder runs at int8 with its ranges unless `options.precision` says otherwise (folderPrecision).
 */
export async function evaluateModelFolder(
  modelDir: string,
  dataDir: string,
  options: EvaluateOptions = {},
): Promise<EvaluationReport> {
  const { model, info } = await loadModelFolder(modelDir);
  try {
    const precision = options.ranges ? {} : folderPrecision(info, options.precision);
    return await evaluateModel(model, info, modelDir, dataDir, { ...options, ...precision });
  } finally {
    model.dispose();
  }
}

export interface EvaluateOptions extends InferenceOptions {
  batchSize?: number;
  onBadFile?: BadFilePolicy;
}

/**
 * evaluateModelFolder on a loaded model and its description (`modelDir` names it in the report); the
 * caller keeps and disposes the model.
 */
export async function evaluateModel(
  model: tf.LayersModel,
  info: ModelInfo,
  modelDir: string,
  dataDir: string,
  options: EvaluateOptions = {},
): Promise<EvaluationReport> {
  checkPrecision(model, options);
  const dataset = await ImageFolderDataset.open(dataDir, { classNames: info.labels });
  const n = info.labels.length;
  const acc = { loss: 0, top1: 0, top5: 0, confusion: info.labels.map(() => new Array<number>(n).fill(0)) };
  let images = 0;
  let skipped = 0;
  for await (const batch of batches(dataset, {
    batchSize: options.batchSize ?? EVALUATE_DEFAULTS.batchSize,
    preprocessing: info.preprocessing,
    shuffle: false,
    augmentation: false,
    onBadFile: options.onBadFile,
  })) {
    let probs: Float32Array;
    try {
      probs = await classProbabilities(
        model,
        batch.xs,
        batch.files.map((f) => f.path),
        options,
      );
    } finally {
      tf.dispose([batch.xs, batch.ys]);
    }
    scorePredictions(
      probs,
      batch.files.map((f) => f.label),
      n,
      acc,
    );
    images += batch.files.length;
    skipped += batch.skipped;
  }
  if (images === 0) throw new Error(`${dataDir}: no decodable images to evaluate on`);
  const perClass = info.labels.map((label, i) => {
    const total = acc.confusion[i].reduce((a, b) => a + b, 0);
    const correct = acc.confusion[i][i];
    return { label, images: total, correct, accuracy: total ? correct / total : 0 };
  });
  return {
    modelDir,
    dataDir,
    images,
    loss: acc.loss / images,
    accuracy: acc.top1 / images,
    top5: n >= 5 ? acc.top5 / images : null,
    labels: info.labels,
    perClass,
    confusion: acc.confusion,
    skipped,
  };
}
