// Small values shared across data-parallel ranks: the run's settings from rank 0, validation sums, a vote.
import type { Collective } from '../distributed/collective';

/** Sends rank 0's JSON value to every rank (others pass anything; they get rank 0's). */
export async function broadcastJson<T>(collective: Collective, value: T): Promise<T> {
  const bytes = collective.rank === 0 ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
  const length = new Float64Array([bytes.length]);
  await collective.broadcast(length);
  const received = collective.rank === 0 ? bytes : new Uint8Array(length[0]);
  await collective.broadcast(received);
  return JSON.parse(new TextDecoder().decode(received));
}

/** Sums `values` over the ranks in float64 (validation sums, stop votes). */
export async function allreduceNumbers(collective: Collective, values: number[]): Promise<number[]> {
  const buf = new Float64Array(values);
  await collective.allreduceSum(buf);
  return Array.from(buf);
}
