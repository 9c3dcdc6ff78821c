// The model folder is replaced as a whole: a kill at any moment of a run leaves the old folder or the new one
// (labels matching weights), an interrupted new run leaves the old run's files as they were, and no
// temporary folders survive the next run. Plain folders (older versions, models/cifar10) keep working.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadModelFolder } from '../src/io/model_folder';
import { removeDir, tempDir } from './data_fixtures';
import { CLI_MAIN, CPU_ENV, colourFolder, interruptedRun, TINY_TRAIN_FLAGS } from './training_fixtures';

let dir: string;
let three: string;
let two: string;
/** A model folder of the current layout trained on `three`, and a plain copy (the layout of older versions). */
let generational: string;
let plain: string;

function train(data: string, out: string, env: NodeJS.ProcessEnv = {}, ...more: string[]) {
  return spawnSync(
    process.execPath,
    [CLI_MAIN, 'train', '--data', data, ...TINY_TRAIN_FLAGS, '--epochs', '1', '--out', out, ...more],
    {
      encoding: 'utf8',
      env: { ...CPU_ENV, ...env },
    },
  );
}

/** `inception train --out OUT --resume --epochs 2`: continues whichever run OUT's checkpoints hold. */
function resume(out: string) {
  return spawnSync(process.execPath, [CLI_MAIN, 'train', '--out', out, '--resume', '--epochs', '2'], {
    encoding: 'utf8',
    env: CPU_ENV,
  });
}

/** Every file reachable from the folder's entries (links followed), with its SHA-256. */
async function contents(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const name of (await fs.readdir(d)).sort()) {
      // The generation link and folders: what they hold is reached through the entries.
      if (name.startsWith('.') || (d === root && name === 'current')) continue;
      const full = path.join(d, name);
      const stat = await fs.stat(full);
      if (stat.isDirectory()) await walk(full);
      else
        out[path.relative(root, full)] = createHash('sha256')
          .update(await fs.readFile(full))
          .digest('hex');
    }
  };
  await walk(root);
  return out;
}

/** Which run the folder holds, as the loader and as a reader of its files see it; throws when mixed. */
async function version(out: string): Promise<'three' | 'two'> {
  const { model, info } = await loadModelFolder(out);
  const units = (model.outputs[0].shape as number[])[1];
  model.dispose();
  const labels = JSON.parse(await fs.readFile(path.join(out, 'labels.json'), 'utf8'));
  const modelJson = JSON.parse(await fs.readFile(path.join(out, 'model.json'), 'utf8'));
  const weights = (await fs.stat(path.join(out, 'weights.bin'))).size;
  const described = modelJson.weightsManifest[0].weights.reduce(
    (n: number, w: any) => n + w.shape.reduce((a: number, b: number) => a * b, 1) * 4,
    0,
  );
  assert.equal(weights, described, 'weights.bin matches model.json');
  assert.deepEqual(labels, info.labels, 'labels.json read directly is the loader');
  assert.equal(units, info.labels.length);
  return info.labels.length === 3 ? 'three' : 'two';
}

async function leftovers(out: string): Promise<string[]> {
  return (await fs.readdir(out)).filter((n) => n.endsWith('.tmp') || n.startsWith('.old-'));
}

before(async () => {
  await tf.setBackend('cpu');
  dir = await tempDir();
  three = await colourFolder(path.join(dir, 'three'), 4, 0);
  two = path.join(dir, 'two');
  for (const c of ['blue', 'red']) await fs.cp(path.join(three, c), path.join(two, c), { recursive: true });
  generational = path.join(dir, 'generational');
  const r = train(three, generational);
  assert.equal(r.status, 0, r.stderr);
  plain = path.join(dir, 'plain');
  await fs.cp(generational, plain, {
    recursive: true,
    dereference: true,
    filter: (s) => !path.basename(s).startsWith('.'),
  });
  await fs.rm(path.join(plain, 'current'), { recursive: true, force: true });
});

after(async () => {
  await removeDir(dir);
});

test('a plain folder (older layout) loads as it is', async () => {
  assert.ok((await fs.lstat(path.join(plain, 'model.json'))).isFile());
  assert.equal(await version(plain), 'three');
});

const POINTS: [string, string[], 'three' | 'two'][] = [
  ['publish:adopting', ['plain'], 'three'],
  ['publish:before-swap', ['plain', 'generational'], 'three'],
  ['publish:after-swap', ['plain', 'generational'], 'two'],
];

for (const [point, layouts, expected] of POINTS) {
  for (const layout of layouts) {
    test(`SIGKILL at ${point} over a ${layout} folder: the ${expected === 'three' ? 'old' : 'new'} folder, whole; the next run cleans up`, async () => {
      const out = path.join(dir, `${layout}-${point.replace(':', '-')}`);
      await fs.cp(layout === 'plain' ? plain : generational, out, {
        recursive: true,
        verbatimSymlinks: true,
      });
      const before = await contents(out);
      const killed = train(two, out, { INCEPTION_CRASH_AT: point });
      assert.equal(killed.signal, 'SIGKILL', `${killed.status} ${killed.stderr}`);
      assert.equal(await version(out), expected);
      if (expected === 'three')
        assert.deepEqual(await contents(out), before, 'the old folder, byte for byte');
      const again = train(two, out);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(await version(out), 'two');
      assert.deepEqual(await leftovers(out), []);
      assert.equal((await fs.readdir(out)).filter((n) => n.startsWith('.gen-')).length, 1);
    });
  }
}

test('an interrupted new run leaves the old run, checkpoints included, as it was; --resume continues the new run', async () => {
  const out = path.join(dir, 'interrupted');
  await fs.cp(plain, out, { recursive: true });
  const before = await contents(out);
  const { code, stderr } = await interruptedRun(
    ['train', '--data', two, ...TINY_TRAIN_FLAGS, '--epochs', '50', '--out', out],
    CPU_ENV,
    120_000,
  );
  assert.equal(code, 130, stderr);
  assert.deepEqual(await contents(out), before);
  assert.equal(await version(out), 'three');
  const where = /checkpoint written to (\S+);/.exec(stderr)?.[1];
  assert.ok(where, stderr);
  const state = JSON.parse(await fs.readFile(path.join(where, 'state.json'), 'utf8'));
  assert.deepEqual(state.meta.labels, ['blue', 'red']);
  const resumed = resume(out);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming from ${where}`));
  assert.equal(await version(out), 'two');
  assert.deepEqual(await leftovers(out), []);
});

test('a new run killed before its first checkpoint: the old folder and checkpoints as they were, --resume resumes the old run', async () => {
  const out = path.join(dir, 'early-kill');
  await fs.cp(generational, out, { recursive: true, verbatimSymlinks: true });
  const before = await contents(out);
  // Killed while publishing means after its checkpoints: kill it at its very first one instead.
  const killed = train(two, out, { INCEPTION_CRASH_AT: 'dir:before-swap' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.deepEqual(await contents(out), before);
  const resumed = resume(out);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming from .* at epoch 2, step 0/);
  assert.equal(await version(out), 'three');
  assert.deepEqual(await leftovers(out), []);
});
