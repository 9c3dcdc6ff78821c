import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { decodeImage } from '../data/decode';
import { ImageFolderDataset } from '../data/image_folder';
import { classifier, type InferenceOptions } from '../inference/classify';
import type { ModelInfo } from '../io/model_folder';

/** One image of the report's sample grid. */
export interface Sample {
  file: string;
  /** The image as a data URI (a small JPEG thumbnail). */
  image: string;
  trueLabel: number;
  predicted: number;
  probability: number;
}

/** Predictions over a labelled image folder, reduced to what the report shows. */
export interface FolderEvaluation {
  dir: string;
  classNames: string[];
  /** confusion[true][predicted] = count. */
  confusion: number[][];
  total: number;
  correct: number;
  samples: Sample[];
}

/** What evaluateFolder (and so `inception report --data`) uses for an option it is not given. */
export const EVALUATE_FOLDER_DEFAULTS = { batchSize: 32, samplesPerClass: 4 };

const THUMBNAIL_PX = 96;

async function thumbnail(file: string): Promise<string> {
  const jpeg = await sharp(file)
    .resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'inside' })
    .jpeg({ quality: 80 })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

/**
 * Runs the model over every image of a labelled folder (classes must be the model's labels), in batches,
 * and keeps the confusion matrix plus `samplesPerClass` thumbnails per class for the grid.
 */
export async function evaluateFolder(
  model: tf.LayersModel,
  info: ModelInfo,
  dir: string,
  options: InferenceOptions & {
    batchSize?: number;
    samplesPerClass?: number;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<FolderEvaluation> {
  const dataset = await ImageFolderDataset.open(dir, { classNames: info.labels });
  const classify = classifier(model, info, options);
  const batchSize = options.batchSize ?? EVALUATE_FOLDER_DEFAULTS.batchSize;
  const perClass = options.samplesPerClass ?? EVALUATE_FOLDER_DEFAULTS.samplesPerClass;
  const n = info.labels.length;
  const confusion = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const samples: Sample[] = [];
  const taken = new Array<number>(n).fill(0);
  let correct = 0;
  for (let start = 0; start < dataset.files.length; start += batchSize) {
    const batch = dataset.files.slice(start, start + batchSize);
    const inputs = await Promise.all(batch.map((f) => decodeImage(f.path, info.preprocessing)));
    const probs = await classify(
      inputs,
      batch.map((f) => f.path),
    );
    for (let i = 0; i < batch.length; i++) {
      let best = 0;
      for (let c = 1; c < n; c++) if (probs[i][c] > probs[i][best]) best = c;
      const truth = batch[i].label;
      confusion[truth][best]++;
      if (best === truth) correct++;
      if (taken[truth] < perClass) {
        taken[truth]++;
        samples.push({
          file: path.relative(dir, batch[i].path),
          image: await thumbnail(batch[i].path),
          trueLabel: truth,
          predicted: best,
          probability: probs[i][best],
        });
      }
    }
    options.onProgress?.(Math.min(start + batchSize, dataset.files.length), dataset.files.length);
  }
  return { dir, classNames: info.labels, confusion, total: dataset.files.length, correct, samples };
}
