import * as tf from '@tensorflow/tfjs';
import { deriveSeed, seededRandom, shuffleInPlace } from '../random';
import { augmentPixels } from './augment';
import { handleBadFile } from './bad_file';
import { checkPreprocessing, decodePixels, normalizePixels, type Pixels } from './decode';
import type { ImageFolderDataset } from './image_folder';
import { prefetchInOrder } from './prefetch';
import type { Batch, BatchOptions, LabelledFile } from './types';

/** What a finished stream saw: the generator's return value. */
export interface BatchStreamSummary {
  batches: number;
  images: number;
  skipped: number;
}

/** Batches in one pass: the last partial batch counts. Skipped bad files can make the stream shorter. */
export function countBatches(dataset: Pick<ImageFolderDataset, 'size'>, batchSize: number): number {
  return Math.ceil(dataset.size / batchSize);
}

function checkOptions(options: BatchOptions): void {
  checkPreprocessing(options.preprocessing);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new Error(`batch size must be a whole number >= 1; got ${options.batchSize}`);
  }
  if (options.prefetch !== undefined && !(options.prefetch >= 1)) {
    throw new Error(`prefetch must be >= 1; got ${options.prefetch}`);
  }
}

/** Copies a batch's decoded images and labels into one float32 buffer each and makes the two tensors. */
function assembleBatch(
  images: Pixels[],
  files: LabelledFile[],
  numClasses: number,
  options: BatchOptions,
  skipped: number,
): Batch {
  const [h, w, c] = options.preprocessing.inputShape;
  const imageSize = h * w * c;
  const xs = new Float32Array(images.length * imageSize);
  const ys = new Float32Array(files.length * numClasses);
  for (let i = 0; i < images.length; i++) {
    normalizePixels(images[i].data, options.preprocessing, xs, i * imageSize);
    ys[i * numClasses + files[i].label] = 1;
  }
  return {
    xs: tf.tensor4d(xs, [images.length, h, w, c]),
    ys: tf.tensor2d(ys, [files.length, numClasses]),
    files,
    skipped,
  };
}

/**
 * Streams one pass over `dataset` as batches of NHWC float32 images and one-hot labels; the last batch
 * holds the remainder. With `shuffle`, the file order of pass `epoch` is a seeded shuffle, so a resumed run
 * sees the same order for the same epoch; augmentation draws are seeded the same way. Images are decoded
 * `prefetch` ahead (sharp runs them in parallel on libuv's thread pool) and only the batch being filled and
 * the prefetch window are ever in memory, whatever the dataset size. The consumer disposes xs and ys.
 *
 * Bad files: `onBadFile: 'error'` (default) throws ImageDecodeError, one line naming the file; `'skip'`
 * reports it to onSkip, counts it in the batch's `skipped`, and fills the batch from the next files.
 */
export async function* batches(
  dataset: ImageFolderDataset,
  options: BatchOptions,
): AsyncGenerator<Batch, BatchStreamSummary> {
  checkOptions(options);
  const seed = options.seed ?? 0;
  const epoch = options.epoch ?? 0;
  const order = [...dataset.files];
  if (options.shuffle) shuffleInPlace(order, seededRandom(deriveSeed(seed, epoch, 1)));
  const augmentation = options.augmentation || undefined;
  const augmentRandom = seededRandom(deriveSeed(seed, epoch, 2));
  const prefetch = options.prefetch ?? Math.max(2 * options.batchSize, 8);
  const numClasses = dataset.classNames.length;
  const summary: BatchStreamSummary = { batches: 0, images: 0, skipped: 0 };

  let images: Pixels[] = [];
  let files: LabelledFile[] = [];
  let skipped = 0;
  let index = 0;
  for await (const settled of prefetchInOrder(
    order,
    (f) => decodePixels(f.path, options.preprocessing),
    prefetch,
  )) {
    const file = order[index++];
    if (!settled.ok) {
      handleBadFile(settled.error, options.onBadFile, options.onSkip);
      skipped++;
      summary.skipped++;
      continue;
    }
    // Augment in stream order (not decode-completion order), so the draws are reproducible.
    images.push(augmentation ? augmentPixels(settled.value, augmentation, augmentRandom) : settled.value);
    files.push(file);
    if (images.length === options.batchSize) {
      summary.batches++;
      summary.images += images.length;
      yield assembleBatch(images, files, numClasses, options, skipped);
      images = [];
      files = [];
      skipped = 0;
    }
  }
  if (images.length > 0) {
    summary.batches++;
    summary.images += images.length;
    yield assembleBatch(images, files, numClasses, options, skipped);
  }
  return summary;
}
