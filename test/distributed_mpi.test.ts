// Data parallel over real MPI: `mpirun -np 2` runs the scripts in test/support/. Two ranks train to the same
// weights as one process with the same global batch, bit-identical to each other though they started from
// different weights; a rank that exits, throws, is killed or stalls ends the job non-zero, named, within a
// few collective timeouts. Skipped, saying why, without mpirun or the MPI addon.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { mpiAddonLookup } from '../src/backend/mpi_addon';
import { mpiSkipReason } from './helpers/mpi';

const SUPPORT = path.join(__dirname, 'support');

const skip = mpiSkipReason();

/** `mpirun -np 2` on a support script; the whole job is killed at `limitSeconds` (a hang fails). */
function mpirun(script: string, args: string[], limitSeconds: number) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--allow-run-as-root'] : [];
  const started = Date.now();
  const r = spawnSync(
    'mpirun',
    [
      ...root,
      '--oversubscribe',
      '-np',
      '2',
      '--bind-to',
      'core',
      process.execPath,
      path.join(SUPPORT, script),
      ...args,
    ],
    { encoding: 'utf8', timeout: limitSeconds * 1000 },
  );
  return {
    code: r.status,
    signal: r.signal,
    output: `${r.stdout}${r.stderr}`,
    seconds: (Date.now() - started) / 1000,
    stdout: r.stdout,
  };
}

describe('two ranks train as one process', { skip }, () => {
  for (const mode of ['plain', 'bn']) {
    test(`${mode === 'bn' ? 'with batch norm: as one process accumulating the two micro-batches' : 'BN-free: as one process with the global batch'}; the ranks bit-identical`, () => {
      const r = mpirun('mpi_equivalence.js', [mode], 120);
      assert.equal(r.code, 0, r.output);
      const result = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      assert.equal(result.ranks, 2);
      assert.equal(result.identical, true, 'rank 1 differs from rank 0');
      assert.deepEqual(result.extras, [0, 1, 0], "rank 1's step extra, summed into step 1 only");
      assert.ok(result.moved > 1e-3, `training did not move the weights (${result.moved})`);
      assert.ok(
        result.maxRelative <= 1e-5,
        `max relative difference from one process: ${result.maxRelative}`,
      );
    });
  }
});

describe('a failing rank ends the job, named', { skip }, () => {
  const TIMEOUT = 2;
  test('control: healthy ranks finish and exit 0', () => {
    const r = mpirun('mpi_failure.js', ['ok', String(TIMEOUT)], 60);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /finished/);
  });
  const cases: [string, string, RegExp][] = [
    ['exit', '1', /rank 1: exited \(status 3\) at step 2 without finalize\(\)/],
    ['throw', '1', /injected failure[\s\S]*rank 1: exited \(status 1\) at step 2/],
    ['kill', '1', /process rank 1 .*exited on signal 9/],
    ['stall', '1', /rank 0: rank 1 did not reach allreduceSum #3 at step 2 within \d+ s/],
    ['stall', '0', /rank 1: rank 0 did not reach allreduceSum #3 at step 2 within \d+ s/],
  ];
  for (const [failure, rank, message] of cases) {
    test(`rank ${rank} that does "${failure}" at step 2`, () => {
      const r = mpirun('mpi_failure.js', [failure, String(TIMEOUT), rank], 60);
      assert.equal(r.signal, null, `the job hung until killed:\n${r.output}`);
      assert.notEqual(r.code, 0, r.output);
      assert.match(r.output, message);
      // Start-up takes a few seconds on a loaded machine; the failure itself must end it within ~2 deadlines.
      assert.ok(r.seconds < 30, `took ${r.seconds} s`);
    });
  }
});

describe('a launcher and an MPI that disagree', {
  skip: mpiAddonLookup().addon ? false : 'MPI addon not built',
}, () => {
  test('srun tasks without PMI (each a world of 1) are refused with the fix, not trained alone', () => {
    const script = `try { require(${JSON.stringify(path.join(__dirname, '..', 'src', 'distributed', 'collective.js'))}).initCollective({ setThreads: false }); console.log('started'); } catch (e) { console.log(e.message); process.exitCode = 1; }`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SLURM_NTASKS: '2',
      SLURM_STEP_NUM_TASKS: '2',
      SLURM_PROCID: '0',
      SLURM_STEP_ID: '0',
    };
    for (const name of Object.keys(env))
      if (name.startsWith('OMPI_') || name.startsWith('PMI')) delete env[name];
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
    assert.match(
      r.stdout,
      /^srun started 2 tasks without a PMI server, so each is an MPI world of 1: run srun --mpi=pmix$/m,
    );
  });
});
