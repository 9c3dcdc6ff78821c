// `inception train --distributed` end to end under `mpirun -np 2`, one thread per rank: rank 0 alone writes,
// the history is one process's, SIGTERM to one rank stops both after the same step with checkpoints/last
// written, and that 2-rank checkpoint resumes on 1 rank to the uninterrupted run's history. Each process is
// killed past its limit, so a hang fails. Skipped, saying why, without mpirun or the MPI addon.
import assert from 'node:assert/strict';
import { type SpawnOptions, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mpirunOptions, mpiSkipReason } from './helpers/mpi';
import { CLI_MAIN, colourFolder, TINY_TRAIN_FLAGS } from './training_fixtures';

const skip = mpiSkipReason();
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };
const EPOCHS = '3';
const LIMIT_MS = 120_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args`, killing its process group past LIMIT_MS; `onStderr` may act on the output so far. */
function run(command: string, args: string[], onStderr?: (text: string, pid: number) => void): Promise<Ran> {
  const options: SpawnOptions = { env: ENV, detached: true };
  const child = spawn(command, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
    onStderr?.(stderr, child.pid as number);
  });
  const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), LIMIT_MS);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const train = (data: string, out: string, ...more: string[]) => [
  CLI_MAIN,
  'train',
  '--data',
  data,
  ...TINY_TRAIN_FLAGS,
  '--epochs',
  EPOCHS,
  '--no-reduce-lr',
  '--out',
  out,
  '--json',
  ...more,
];

function history(r: Ran, what: string): Record<string, number[]> {
  assert.equal(r.stdout.trim().split('\n').length, 1, `${what}: one JSON document on stdout:\n${r.stdout}`);
  return JSON.parse(r.stdout).history.history;
}

function assertSameHistory(
  actual: Record<string, number[]>,
  expected: Record<string, number[]>,
  what: string,
) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), what);
  for (const [k, values] of Object.entries(expected)) {
    assert.equal(actual[k].length, values.length, `${what}: ${k}`);
    values.forEach((e, i) => {
      const a = actual[k][i];
      assert.ok(Math.abs(a - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${what}: ${k}[${i}] ${a} vs ${e}`);
    });
  }
}

/** The pid of rank `rank` among mpirun's children (Open MPI puts the rank in each one's environment). */
async function rankPid(mpirunPid: number, rank: number): Promise<number | null> {
  const children = (
    await fs.readFile(`/proc/${mpirunPid}/task/${mpirunPid}/children`, 'utf8').catch(() => '')
  )
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  for (const pid of children) {
    const env = await fs.readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (env.split('\0').includes(`OMPI_COMM_WORLD_RANK=${rank}`)) return pid;
  }
  return null;
}

describe('inception train --distributed under mpirun -np 2', { skip }, () => {
  let root: string;
  let data: string;
  let single: Record<string, number[]>;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'train-distributed-'));
    // 3 classes x 8 images, global batch 4: 6 steps an epoch.
    data = await colourFolder(path.join(root, 'data'), 8);
    const r = await run(process.execPath, train(data, path.join(root, 'single')));
    assert.equal(r.code, 0, r.stderr);
    single = history(r, 'one process');
  });
  after(() => fs.rm(root, { recursive: true, force: true }));

  test("only rank 0 prints and writes; the history is one process's with the same global batch", async () => {
    const [a, b] = [path.join(root, 'rank0'), path.join(root, 'rank1')];
    // One rank each side of ':' (MPMD): rank 1 is told another --out, which must stay absent.
    const r = await run('mpirun', [
      ...mpirunOptions(),
      '-np',
      '1',
      process.execPath,
      ...train(data, a, '--distributed'),
      ':',
      '-np',
      '1',
      process.execPath,
      ...train(data, b, '--distributed'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /distributed: 2 ranks \(mpirun/);
    assertSameHistory(history(r, '2 ranks'), single, '2 ranks vs one process');
    assert.ok((await fs.stat(path.join(a, 'model.json'))).isFile());
    assert.ok((await fs.stat(path.join(a, 'checkpoints', 'last', 'state.json'))).isFile());
    await assert.rejects(fs.stat(b), /ENOENT/, 'rank 1 wrote its --out');
  });

  test('SIGTERM to rank 1 stops both ranks after the same step; the checkpoint resumes on 1 rank', async () => {
    const out = path.join(root, 'interrupted');
    let signalled = false;
    const r = await run(
      'mpirun',
      [...mpirunOptions(), '-np', '2', process.execPath, ...train(data, out, '--distributed')],
      (text, pid) => {
        if (signalled || !/Epoch 2\//.test(text)) return;
        signalled = true;
        rankPid(pid, 1).then((rank1) => {
          assert.ok(rank1, "rank 1 not found among mpirun's children");
          process.kill(rank1, 'SIGTERM');
        });
      },
    );
    assert.ok(signalled, r.stderr);
    // Both ranks stopped on their own (130) at the same step: a rank going on alone would wait for the other
    // in its next allreduce until killed.
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /rank 1: interrupted \(SIGTERM\)/);
    assert.doesNotMatch(r.stderr, /ending the job/);
    const report = JSON.parse(r.stdout);
    assert.equal(report.interrupted, true);
    const state = JSON.parse(await fs.readFile(path.join(report.lastCheckpoint, 'state.json'), 'utf8'));
    assert.ok(state.snapshot.epoch >= 1, `stopped at epoch ${state.snapshot.epoch}`);
    // Resumed by one process, the run ends where the uninterrupted one did.
    const resumed = await run(process.execPath, [CLI_MAIN, 'train', '--out', out, '--resume', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assertSameHistory(history(resumed, 'resumed on 1 rank'), single, '2 ranks interrupted, resumed on 1');
  });
});
