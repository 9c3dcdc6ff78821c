// Threads per rank. The native engine's OpenMP team spans every CPU of the process's affinity mask unless
// told otherwise, so N ranks on one node, each with a full team, fight over the same cores (measured on 2
// cores: 2 ranks x 2 threads was 3-4x slower than 2 x 1). OpenMP reads OMP_NUM_THREADS once, when the
// engine's addon loads, so the count is settled before the backend starts.
import * as fs from 'node:fs';
import * as os from 'node:os';

/** How many CPUs a Linux CPU list ("0-3,8,10-11") names. */
export function countCpuList(list: string): number {
  let total = 0;
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    total += last - first + 1;
  }
  return total;
}

/** CPUs in this process's affinity mask (/proc/self/status's Cpus_allowed_list, else libuv's count). */
export function affinityCpus(): number {
  try {
    const match = /^Cpus_allowed_list:\s*(.+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return countCpuList(match[1]);
  } catch {
    // not Linux: libuv's count below follows the affinity mask where the OS has one
  }
  return os.availableParallelism();
}

export interface RankThreads {
  threads: number;
  /** One line when ranks outnumber the CPUs they share, else null. */
  warning: string | null;
}

/**
 * Threads for one rank: the CPUs of its affinity mask divided among the ranks on this node whose masks
 * overlap it (all local ranks when unbound, just itself when mpirun binds each rank to its own cores), at
 * least 1.
 */
export function threadsPerRank(cpus: number, ranksSharingCpus: number): RankThreads {
  const sharing = Math.max(1, ranksSharingCpus);
  const threads = Math.max(1, Math.floor(cpus / sharing));
  const warning =
    sharing > cpus
      ? `${sharing} ranks share ${cpus} CPU${cpus === 1 ? '' : 's'} on this node: oversubscribed, each runs 1 thread and steps will be slow`
      : null;
  return { threads, warning };
}

/**
 * Sets OMP_NUM_THREADS for the native engine unless the user set it, and says what it chose. Must run
 * before the backend loads (importing the package's index loads it): afterwards OpenMP has its team.
 */
export function applyRankThreads(
  cpus: number,
  ranksSharingCpus: number,
  env: Record<string, string | undefined> = process.env,
): RankThreads & { source: 'OMP_NUM_THREADS' | 'affinity' } {
  const chosen = threadsPerRank(cpus, ranksSharingCpus);
  const own = env.OMP_NUM_THREADS;
  if (own !== undefined && /^\d+$/.test(own.trim()) && Number(own) >= 1) {
    return { threads: Number(own), warning: chosen.warning, source: 'OMP_NUM_THREADS' };
  }
  env.OMP_NUM_THREADS = String(chosen.threads);
  return { ...chosen, source: 'affinity' };
}
