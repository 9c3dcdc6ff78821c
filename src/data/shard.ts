import type { Shard } from './types';

/** Every rank's part of a global batch: a single process is rank 0 of 1. */
export const WHOLE: Shard = { rank: 0, size: 1 };

/** Checks that `shard` names a rank among its ranks; errors name the problem. */
export function checkShard(shard: Shard): void {
  const { rank, size } = shard;
  if (!(Number.isInteger(size) && size >= 1))
    throw new Error(`shard size must be an integer >= 1; got ${size}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < size)) {
    throw new Error(`shard rank must be an integer in [0, ${size - 1}]; got ${rank}`);
  }
}

/**
 * The slice [start, end) of a global batch of `n` items that `shard.rank` takes: contiguous, the first
 * n % size ranks one item more, so the parts differ by at most one and cover the batch in rank order.
 */
export function shardSlice(n: number, shard: Shard): [number, number] {
  const base = Math.floor(n / shard.size);
  const extra = n % shard.size;
  const start = shard.rank * base + Math.min(shard.rank, extra);
  return [start, start + base + (shard.rank < extra ? 1 : 0)];
}

/**
 * The items of each global batch of a pass over `items` (already in pass order) that `shard.rank` takes,
 * from batch `firstBatch` on: one (possibly empty) list per global batch.
 */
export function shardBatches<T>(items: readonly T[], batchSize: number, shard: Shard, firstBatch = 0): T[][] {
  const out: T[][] = [];
  for (let start = firstBatch * batchSize; start < items.length; start += batchSize) {
    const global = items.slice(start, start + batchSize);
    const [a, b] = shardSlice(global.length, shard);
    out.push(global.slice(a, b));
  }
  return out;
}
