import * as tf from '@tensorflow/tfjs';
import type { Shard } from '../data/types';
import { rankBatches } from '../distributed/shards';
import { deriveSeed, seededRandom, shuffleInPlace } from '../random';

/** One batch for the loop: NHWC (or any) inputs and one-hot labels; the loop disposes both. */
export interface XYBatch {
  xs: tf.Tensor;
  ys: tf.Tensor;
}

/**
 * What the training loop draws batches from. `batches(epoch, skip)` makes one pass; the epoch seeds its
 * shuffling and augmentation so that a resumed run sees the same order, and `skip` drops the batches a
 * run interrupted mid-epoch had already trained on.
 */
export interface DataSource {
  /** Batches per pass. */
  readonly steps: number;
  batches(epoch: number, skip?: number): AsyncIterable<XYBatch>;
}

/**
 * Batches of in-memory tensors (Keras `fit(x, y, batch_size, shuffle)`), reshuffled per epoch from `seed`.
 * With `shard`, each batch is that rank's part of the global batch of `batchSize` (possibly empty).
 */
export function tensorSource(
  xs: tf.Tensor,
  ys: tf.Tensor,
  {
    batchSize = 32,
    shuffle = true,
    seed = 0,
    shard = { rank: 0, size: 1 },
  }: { batchSize?: number; shuffle?: boolean; seed?: number; shard?: Shard } = {},
): DataSource {
  const n = xs.shape[0];
  if (ys.shape[0] !== n) throw new Error(`tensorSource: ${n} inputs but ${ys.shape[0]} labels`);
  const steps = Math.ceil(n / batchSize);
  return {
    steps,
    async *batches(epoch: number, skip = 0) {
      const order = [...Array(n).keys()];
      if (shuffle) shuffleInPlace(order, seededRandom(deriveSeed(seed, epoch)));
      for (const idx of rankBatches(order, batchSize, shard.rank, shard.size).slice(skip)) {
        yield tf.tidy(() => {
          const i = tf.tensor1d(idx, 'int32');
          return { xs: tf.gather(xs, i), ys: tf.gather(ys, i) };
        });
      }
    },
  };
}
