// In-process ranks for testing data-parallel training without MPI: N collectives whose k-th calls meet.
import type { Collective } from '../../src/distributed/collective';

type Buffer = Float32Array | Float64Array;
type Bytes = Buffer | Uint8Array;

/**
 * `size` collectives over one process, for ranks run as concurrent async tasks. Each rank's k-th collective
 * call waits for every rank's k-th call; then allreduceSum adds the buffers in rank order (deterministic) and
 * broadcast copies the root's. A call whose kind or length differs from the others' throws on every rank.
 */
export function localCollectives(size: number): Collective[] {
  const rounds = new Map<number, { kind: string; bufs: Bytes[]; roots: number[]; done: (() => void)[] }>();
  const calls = new Array<number>(size).fill(0);
  const meet = (rank: number, kind: string, buf: Bytes, root = 0) =>
    new Promise<void>((resolve, reject) => {
      const k = calls[rank]++;
      const round = rounds.get(k) ?? { kind, bufs: [], roots: [], done: [] };
      rounds.set(k, round);
      round.bufs[rank] = buf;
      round.roots[rank] = root;
      round.done.push(() => {
        if (round.kind !== kind || round.bufs.some((b) => b.length !== buf.length)) {
          reject(new Error(`rank ${rank}: collective call ${k} does not match the other ranks'`));
        } else resolve();
      });
      if (round.done.length < size) return;
      rounds.delete(k);
      if (round.kind === 'allreduce') {
        const sum = new Float64Array(buf.length);
        for (const b of round.bufs) for (let i = 0; i < b.length; i++) sum[i] += b[i];
        for (const b of round.bufs) b.set(sum);
      } else {
        const from = round.bufs[round.roots[0]];
        for (const b of round.bufs) if (b !== from) b.set(from);
      }
      for (const d of round.done) d();
    });
  return Array.from({ length: size }, (_, rank) => ({
    rank,
    size,
    localRank: rank,
    localSize: size,
    step: '',
    broadcast: (buf: ArrayBufferView, root = 0) => meet(rank, 'broadcast', buf as Bytes, root),
    allreduceSum: (buf: Buffer) => meet(rank, 'allreduce', buf),
    barrier: () => meet(rank, 'barrier', new Uint8Array(0)),
    abort: (code: number, message: string): never => {
      throw new Error(`rank ${rank} aborted the job (${code}): ${message}`);
    },
    finalize: () => {},
  }));
}
