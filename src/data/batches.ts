import * as tf from '@tensorflow/tfjs';
import { rankBatches } from '../distributed/shards';
import { deriveSeed, seededRandom, shuffleInPlace } from '../random';
import { augmentPixels } from './augment';
import { handleBadFile } from './bad_file';
import { checkPreprocessing, decodePixels, normalizePixels, type Pixels } from './decode';
import type { ImageFolderDataset } from './image_folder';
import { prefetchInOrder, type Settled } from './prefetch';
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
 * sees the same order for the same epoch. Augmentation is drawn per image from (seed, epoch, the image's
 * index in the dataset), so an image gets the same flip and crop whatever its place in the stream, the
 * batch it lands in or the rank that reads it. Images are decoded `prefetch` ahead (sharp runs them in
 * parallel on libuv's thread pool) and only the batch being filled and the prefetch window are ever in
 * memory, whatever the dataset size. The consumer disposes xs and ys.
 *
 * With `shard`, each batch is the rank's part of a global batch (see BatchOptions.shard), one per step.
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
  const order = [...dataset.files.keys()];
  if (options.shuffle) shuffleInPlace(order, seededRandom(deriveSeed(seed, epoch, 1)));
  const augmentation = options.augmentation || undefined;
  const augment = (pixels: Pixels, index: number) =>
    augmentation
      ? augmentPixels(pixels, augmentation, seededRandom(deriveSeed(seed, epoch, 2, index)))
      : pixels;
  const prefetch = options.prefetch ?? Math.max(2 * options.batchSize, 8);
  const decode = (i: number) => decodePixels(dataset.files[i].path, options.preprocessing);
  const numClasses = dataset.classNames.length;
  const summary: BatchStreamSummary = { batches: 0, images: 0, skipped: 0 };
  // One batch being filled: both loops below add decoded images (or count bad files) the same way.
  type Filling = { images: Pixels[]; files: LabelledFile[]; skipped: number };
  const filling = (): Filling => ({ images: [], files: [], skipped: 0 });
  const add = (batch: Filling, settled: Settled<Pixels>, index: number) => {
    if (!settled.ok) {
      handleBadFile(settled.error, options.onBadFile, options.onSkip);
      batch.skipped++;
      summary.skipped++;
      return;
    }
    batch.images.push(augment(settled.value, index));
    batch.files.push(dataset.files[index]);
  };
  const emit = ({ images, files, skipped }: Filling) => {
    summary.batches++;
    summary.images += images.length;
    return assembleBatch(images, files, numClasses, options, skipped);
  };

  if (options.shard || options.firstBatch) {
    const { rank, size } = options.shard ?? { rank: 0, size: 1 };
    const plan = rankBatches(order, options.batchSize, rank, size).slice(options.firstBatch ?? 0);
    const stream = prefetchInOrder(plan.flat(), decode, prefetch)[Symbol.asyncIterator]();
    for (const indices of plan) {
      const batch = filling();
      for (const index of indices) add(batch, (await stream.next()).value as Settled<Pixels>, index);
      yield emit(batch);
    }
    return summary;
  }

  let batch = filling();
  let position = 0;
  for await (const settled of prefetchInOrder(order, decode, prefetch)) {
    add(batch, settled, order[position++]);
    if (batch.images.length === options.batchSize) {
      yield emit(batch);
      batch = filling();
    }
  }
  if (batch.images.length > 0) yield emit(batch);
  return summary;
}
