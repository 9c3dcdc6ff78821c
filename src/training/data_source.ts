import * as tf from '@tensorflow/tfjs';

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

/** A small seeded generator (mulberry32): same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates with a seeded generator. */
export function shuffledIndices(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Batches of in-memory tensors (Keras `fit(x, y, batch_size, shuffle)`), reshuffled per epoch from `seed`. */
export function tensorSource(
  xs: tf.Tensor,
  ys: tf.Tensor,
  { batchSize = 32, shuffle = true, seed = 0 }: { batchSize?: number; shuffle?: boolean; seed?: number } = {},
): DataSource {
  const n = xs.shape[0];
  if (ys.shape[0] !== n) throw new Error(`tensorSource: ${n} inputs but ${ys.shape[0]} labels`);
  const steps = Math.ceil(n / batchSize);
  return {
    steps,
    async *batches(epoch: number, skip = 0) {
      const order = shuffle ? shuffledIndices(n, seed * 1000003 + epoch) : [...Array(n).keys()];
      for (let step = skip; step < steps; step++) {
        const idx = order.slice(step * batchSize, (step + 1) * batchSize);
        yield tf.tidy(() => {
          const i = tf.tensor1d(idx, 'int32');
          return { xs: tf.gather(xs, i), ys: tf.gather(ys, i) };
        });
      }
    },
  };
}
