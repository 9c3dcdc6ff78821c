// Sharding a pass over a dataset among ranks. Every rank computes the same seeded order, cuts it into the
// same global batches (the global batch size is --batch-size, whatever the number of ranks, the last batch
// holding the remainder), and takes its own contiguous slice of each: so the ranks together see exactly
// what one process sees, batch for batch, and a step's gradient, averaged over the ranks by their sample
// counts, is the one process's.
import { deriveSeed, seededRandom, shuffleInPlace } from '../random';

/**
 * The order of pass `epoch` over `length` items: 0..length-1, shuffled as the image pipeline shuffles its
 * files (src/data/batches.ts: seededRandom(deriveSeed(seed, epoch, 1))), so one rank sees one process's order.
 */
export function epochPermutation(length: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length }, (_, i) => i);
  return shuffleInPlace(order, seededRandom(deriveSeed(seed, epoch, 1)));
}

/** Global batches in a pass: the last holds the remainder. */
export function globalSteps(length: number, batchSize: number): number {
  checkBatching(length, batchSize);
  return Math.ceil(length / batchSize);
}

export interface Range {
  start: number;
  end: number;
}

/**
 * Rank `rank`'s part of `length` items split among `size` ranks: contiguous, the first length % size
 * ranks one item longer. A rank's part is empty when the items are fewer than the ranks.
 */
export function rankSlice(length: number, rank: number, size: number): Range {
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`ranks must be an integer >= 1, got ${size}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < size)) {
    throw new Error(`rank must be an integer in [0, ${size}), got ${rank}`);
  }
  const base = Math.floor(length / size);
  const extra = length % size;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/** Positions in the pass's order of global batch `step`. */
export function globalBatch(length: number, batchSize: number, step: number): Range {
  const steps = globalSteps(length, batchSize);
  if (!(Number.isInteger(step) && step >= 0 && step < steps)) {
    throw new Error(`step must be an integer in [0, ${steps}), got ${step}`);
  }
  return { start: step * batchSize, end: Math.min(length, (step + 1) * batchSize) };
}

/** Item indices of this rank's part of global batch `step` of a pass whose order is `order`. */
export function rankBatch(
  order: readonly number[],
  batchSize: number,
  step: number,
  rank: number,
  size: number,
): number[] {
  const batch = globalBatch(order.length, batchSize, step);
  const part = rankSlice(batch.end - batch.start, rank, size);
  return order.slice(batch.start + part.start, batch.start + part.end);
}

/** This rank's part of every global batch of a pass, in step order (some may be empty in the last step). */
export function rankBatches(
  order: readonly number[],
  batchSize: number,
  rank: number,
  size: number,
): number[][] {
  const steps = globalSteps(order.length, batchSize);
  return Array.from({ length: steps }, (_, step) => rankBatch(order, batchSize, step, rank, size));
}

function checkBatching(length: number, batchSize: number): void {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new Error(`batch size must be an integer >= 1, got ${batchSize}`);
  }
  if (!(Number.isInteger(length) && length >= 0))
    throw new Error(`dataset size must be an integer >= 0, got ${length}`);
}
