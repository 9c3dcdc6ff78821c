// The distributed layer's arithmetic without MPI: shards (1-4 ranks, remainders), launcher detection,
// threads per rank, and the MPI addon's argument layouts against the TS side's (when the addon is built).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MPI_LAYOUTS, mpiAddonLookup } from '../src/backend/mpi_addon';
import { detectLauncher, worldMismatch } from '../src/distributed/launcher';
import {
  epochPermutation,
  globalBatch,
  globalSteps,
  rankBatch,
  rankBatches,
  rankSlice,
} from '../src/distributed/shards';
import { applyRankThreads, countCpuList, threadsPerRank } from '../src/distributed/threads';
import { deriveSeed, seededRandom, shuffleInPlace } from '../src/random';

describe('shards', () => {
  test("the permutation is the image pipeline's file order, the same for every caller", () => {
    const expected = shuffleInPlace(
      Array.from({ length: 37 }, (_, i) => i),
      seededRandom(deriveSeed(5, 3, 1)),
    );
    assert.deepEqual(epochPermutation(37, 5, 3), expected);
    assert.notDeepEqual(epochPermutation(37, 5, 4), expected);
    assert.deepEqual(
      [...epochPermutation(37, 5, 3)].sort((a, b) => a - b),
      Array.from({ length: 37 }, (_, i) => i),
    );
  });

  test('slices: contiguous, the first length % ranks one longer, empty when items are fewer than ranks', () => {
    assert.deepEqual(
      [0, 1, 2].map((r) => rankSlice(8, r, 3)),
      [
        { start: 0, end: 3 },
        { start: 3, end: 6 },
        { start: 6, end: 8 },
      ],
    );
    assert.deepEqual(
      [0, 1, 2, 3].map((r) => rankSlice(2, r, 4)),
      [
        { start: 0, end: 1 },
        { start: 1, end: 2 },
        { start: 2, end: 2 },
        { start: 2, end: 2 },
      ],
    );
    assert.throws(() => rankSlice(4, 2, 2), /rank must be an integer in \[0, 2\)/);
    assert.throws(() => rankSlice(4, 0, 0), /ranks must be an integer >= 1/);
  });

  test('global batches: the last holds the remainder', () => {
    assert.equal(globalSteps(10, 4), 3);
    assert.equal(globalSteps(8, 4), 2);
    assert.equal(globalSteps(0, 4), 0);
    assert.deepEqual(globalBatch(10, 4, 2), { start: 8, end: 10 });
    assert.throws(() => globalBatch(10, 4, 3), /step must be an integer in \[0, 3\)/);
    assert.throws(() => globalSteps(10, 0), /batch size must be an integer >= 1/);
  });

  // Every rank count from 1 to 4 over datasets with remainders, batch sizes below, at and above the ranks.
  for (const size of [1, 2, 3, 4]) {
    test(`${size} rank(s): together the ranks see each global batch exactly, in order`, () => {
      for (const length of [1, 5, 13, 16, 31]) {
        for (const batch of [1, 3, 4, 7, 16]) {
          const order = epochPermutation(length, 9, 1);
          const parts = Array.from({ length: size }, (_, r) => rankBatches(order, batch, r, size));
          const steps = globalSteps(length, batch);
          for (const part of parts) assert.equal(part.length, steps, 'every rank runs every step');
          for (let step = 0; step < steps; step++) {
            const joined = parts.flatMap((part) => part[step]);
            const { start, end } = globalBatch(length, batch, step);
            assert.deepEqual(joined, order.slice(start, end), `length ${length} batch ${batch} step ${step}`);
            const sizes = parts.map((part) => part[step].length);
            assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`);
          }
        }
      }
    });
  }

  test('a rank may have nothing in the last global batch', () => {
    const order = epochPermutation(9, 0, 0);
    assert.deepEqual(rankBatch(order, 4, 2, 1, 2), []);
    assert.deepEqual(rankBatch(order, 4, 2, 0, 2), [order[8]]);
  });
});

describe('launcher', () => {
  test('mpirun (Open MPI)', () => {
    assert.deepEqual(detectLauncher({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '2' }), {
      launcher: 'mpirun',
      size: 4,
      rank: 2,
      pmi: true,
    });
  });
  test("Kubeflow MPIJob: Open MPI ranks with the launcher pod's hostfile and kubexec agent", () => {
    const env = {
      OMPI_COMM_WORLD_SIZE: '8',
      OMPI_COMM_WORLD_RANK: '0',
      OMPI_MCA_orte_default_hostfile: '/etc/mpi/hostfile',
      OMPI_MCA_plm_rsh_agent: '/etc/mpi/kubexec.sh',
    };
    assert.equal(detectLauncher(env).launcher, 'kubeflow-mpijob');
  });
  test('srun --mpi=pmix, and srun without PMI refused clearly', () => {
    const env = {
      SLURM_NTASKS: '2',
      SLURM_STEP_NUM_TASKS: '2',
      SLURM_PROCID: '1',
      SLURM_STEP_ID: '0',
      PMIX_RANK: '1',
    };
    assert.deepEqual(detectLauncher(env), { launcher: 'srun', size: 2, rank: 1, pmi: true });
    const bare = detectLauncher({ ...env, PMIX_RANK: undefined });
    assert.equal(bare.pmi, false);
    assert.match(
      worldMismatch(bare, 1, 'Open MPI v4.1.4') as string,
      /srun started 2 tasks without a PMI server.*srun --mpi=pmix/,
    );
  });
  test('MPICH Hydra', () => {
    assert.deepEqual(detectLauncher({ PMI_SIZE: '3', PMI_RANK: '1' }), {
      launcher: 'mpich',
      size: 3,
      rank: 1,
      pmi: true,
    });
  });
  test('no launcher', () => {
    assert.deepEqual(detectLauncher({}), { launcher: 'none', size: null, rank: null, pmi: false });
    assert.equal(worldMismatch(detectLauncher({}), 1, 'x'), null);
  });
  test("N ranks launched but a world of 1: refused, naming the addon's MPI", () => {
    const launch = detectLauncher({ OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '0' });
    assert.equal(worldMismatch(launch, 2, 'Open MPI v4.1.4'), null);
    const message = worldMismatch(launch, 1, 'MPICH Version: 4.0') as string;
    assert.match(
      message,
      /^mpirun started 2 ranks but MPI reports a world of 1: the MPI addon is linked against MPICH Version: 4.0/,
    );
    assert.equal(message.split('\n').length, 1);
  });
});

describe('threads per rank', () => {
  test('CPU lists', () => {
    assert.equal(countCpuList('0-3,8,10-11'), 7);
    assert.equal(countCpuList('0'), 1);
    assert.throws(() => countCpuList('3-1'), /not a CPU list/);
    assert.throws(() => countCpuList('a'), /not a CPU list/);
  });
  test('the mask divided among the ranks sharing it, at least 1, a warning when oversubscribed', () => {
    assert.deepEqual(threadsPerRank(16, 4), { threads: 4, warning: null });
    assert.deepEqual(threadsPerRank(1, 1), { threads: 1, warning: null }); // bound to one core each
    assert.deepEqual(threadsPerRank(6, 4), { threads: 1, warning: null });
    const over = threadsPerRank(2, 3);
    assert.equal(over.threads, 1);
    assert.match(over.warning as string, /3 ranks share 2 CPUs on this node: oversubscribed/);
  });
  test('OMP_NUM_THREADS is set for the engine unless the user set it', () => {
    const env: Record<string, string | undefined> = {};
    assert.equal(applyRankThreads(8, 2, env).threads, 4);
    assert.equal(env.OMP_NUM_THREADS, '4');
    const own = { OMP_NUM_THREADS: '3' };
    assert.deepEqual(applyRankThreads(8, 2, own), { threads: 3, warning: null, source: 'OMP_NUM_THREADS' });
    assert.equal(own.OMP_NUM_THREADS, '3');
  });
});

describe('the MPI addon', () => {
  const lookup = mpiAddonLookup();
  const skip = lookup.addon ? false : `${lookup.reason}; ${lookup.remedy}`;
  test('exports the argument layouts the TS side calls it with', { skip }, () => {
    assert.deepEqual(lookup.addon?.layouts, MPI_LAYOUTS);
  });
  test('errors name the function and the argument', { skip }, () => {
    const addon = lookup.addon as NonNullable<typeof lookup.addon>;
    assert.throws(
      () => addon.allreduceSum(new Int32Array(2) as unknown as Float32Array),
      /^TypeError: mpi\.allreduceSum: argument 0 \(buffer\) must be a Float32Array or Float64Array$/,
    );
    assert.throws(
      () => (addon.broadcast as (...a: unknown[]) => void)(new Uint8Array(1)),
      /mpi\.broadcast: expected 2 arguments, got 1/,
    );
    assert.throws(() => addon.barrier(), /mpi\.barrier: MPI is not initialised/);
  });
});
