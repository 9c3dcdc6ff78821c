import type * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from '../io/model_folder';

/** One labelled image file of an image folder (`DIR/<class>/<file>`). */
export interface LabelledFile {
  path: string;
  /** Index into the dataset's classNames (sorted folder names, like Keras `image_dataset_from_directory`). */
  label: number;
}

/** Training-time augmentation; off for validation, evaluation and prediction. */
export interface Augmentation {
  /** Random horizontal flip with probability 0.5. */
  horizontalFlip: boolean;
  /** Pad each side by this many pixels then random-crop back to the input size; 0 disables. */
  cropPadding: number;
  /** How the padding is filled: mirror the border pixels (`reflect`, the default) or black (`zero`). */
  padMode?: 'reflect' | 'zero';
}

/** How a stream of batches is drawn from a dataset. */
export interface BatchOptions {
  batchSize: number;
  preprocessing: Preprocessing;
  /** Reshuffle every pass (seeded, so a resumed run sees the same order for the same epoch). */
  shuffle: boolean;
  seed?: number;
  augmentation?: Augmentation | false;
  /** Images decoded ahead of the consumer; bounds memory whatever the dataset size. */
  prefetch?: number;
  /** The pass number: with `seed`, it picks this epoch's file order and augmentation draws. */
  epoch?: number;
  /**
   * Data-parallel training: each batch of the pass is a global batch of `batchSize` images split across
   * `size` ranks, and this stream yields rank `rank`'s part of every one (possibly empty, so every rank yields
   * one batch per step). Batch boundaries are then fixed: a skipped bad file shortens its batch instead of
   * pulling the next file in.
   */
  shard?: Shard;
  /** Start the pass at this batch (a resumed epoch); the earlier batches are not decoded. Needs `shard`. */
  firstBatch?: number;
  /** A bad file (corrupt, not an image, unreadable) stops the stream (`error`, the default) or is skipped. */
  onBadFile?: BadFilePolicy;
  /** Told about each skipped file; defaults to process.emitWarning. */
  onSkip?: (path: string, reason: string) => void;
}

/** One rank's place among `size` data-parallel ranks. */
export interface Shard {
  rank: number;
  size: number;
}

/** What to do with a file that cannot be decoded. */
export type BadFilePolicy = 'error' | 'skip';

/** One batch: NHWC float32 images and one-hot labels. The consumer disposes both. */
export interface Batch {
  xs: tf.Tensor4D;
  ys: tf.Tensor2D;
  /** The files behind each row, for reports and error messages. */
  files: LabelledFile[];
  /** Files skipped (onBadFile 'skip') while this batch was filled. */
  skipped: number;
}
