// Reproducible training: the same seed, data and backend give byte-identical weights and history, through
// the CLI (two processes) and the library (twice in one process). Dropout and augmentation are on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady, googlenetBN, tf } from '../src/index';
import { tensorSource } from '../src/training/data_source';
import { trainModel } from '../src/training/fit';
import { compileClassifier } from '../src/training/metrics';
import { createOptimizer } from '../src/training/optimizers';
import { trainImageClassifier } from '../src/training/train_classifier';
import { removeDir, tempDir } from './data_fixtures';
import { colourFolder } from './training_fixtures';

const MAIN = path.join(__dirname, '..', 'src', 'cli', 'main.js');
// BN (the fused batch-statistics kernels), dropout 0.5 (the builder's default) and the default augmentation
// all in play; a narrow net at 32x32 keeps each run to seconds.
const FLAGS = [
  '--model',
  'googlenet-bn',
  '--width',
  '0.1',
  '--input-size',
  '32',
  '--epochs',
  '2',
  '--batch-size',
  '6',
  '--val-split',
  '0.25',
];
/** What a run writes that must not depend on anything but seed, data and backend. */
const COMPARED = ['weights.bin', 'history.csv', 'history.json', 'model.json'];

let dir: string;

before(async () => {
  dir = await tempDir();
  await colourFolder(path.join(dir, 'data'), 8, 3);
});

after(async () => {
  await removeDir(dir);
});

/** `inception train` on the default backend (onednn where the addon is built), in its own process. */
function train(seed: number, out: string): void {
  const r = spawnSync(
    process.execPath,
    [MAIN, 'train', '--data', path.join(dir, 'data'), ...FLAGS, '--seed', String(seed), '--out', out],
    { encoding: 'utf8', timeout: 240_000 },
  );
  assert.equal(r.status, 0, r.stderr);
}

async function files(out: string): Promise<Record<string, Buffer>> {
  return Object.fromEntries(
    await Promise.all(COMPARED.map(async (f) => [f, await fs.readFile(path.join(out, f))] as const)),
  );
}

test('two `train --seed 1` runs write byte-identical weights.bin and history; --seed 2 trains other weights', async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((n) => path.join(dir, n));
  train(1, a);
  train(1, b);
  train(2, c);
  const [fa, fb, fc] = [await files(a), await files(b), await files(c)];
  for (const f of COMPARED) assert.ok(fa[f].equals(fb[f]), `${f} differs between two runs with --seed 1`);
  assert.ok(!fa['weights.bin'].equals(fc['weights.bin']), 'weights.bin of --seed 2 equals that of --seed 1');
  const history = JSON.parse(fa['history.json'].toString());
  assert.deepEqual(history.epoch, [0, 1]);
  assert.ok(history.history.loss.every(Number.isFinite), `losses ${history.history.loss}`);
});

test('trainImageClassifier twice in one process with one seed: identical weights.bin and history', async () => {
  await backendReady;
  const run = async (name: string) => {
    const out = path.join(dir, name);
    await trainImageClassifier({
      data: path.join(dir, 'data'),
      valSplit: 0.25,
      model: 'googlenet-bn',
      modelArgs: { inputShape: [32, 32, 3], widthMultiplier: 0.1 },
      epochs: 1,
      batchSize: 6,
      seed: 5,
      out,
    });
    return files(out);
  };
  const [first, second] = [await run('lib-a'), await run('lib-b')];
  for (const f of COMPARED) assert.ok(first[f].equals(second[f]), `${f} differs`);
});

test('trainModel on a seeded builder twice in one process: identical weights; another seed: others', async () => {
  await backendReady;
  const weightsAfter = async (seed: number) => {
    const model = googlenetBN({ inputShape: [32, 32, 3], widthMultiplier: 0.1, numClasses: 3, seed });
    compileClassifier(model, createOptimizer('adam', 1e-3));
    const xs = tf.randomNormal([12, 32, 32, 3], 0, 1, 'float32', 1);
    const ys = tf
      .oneHot(
        Array.from({ length: 12 }, (_, i) => i % 3),
        3,
      )
      .cast('float32');
    await trainModel(model, tensorSource(xs, ys, { batchSize: 4, seed }), { epochs: 1 });
    const values = model.getWeights().map((w) => Array.from(w.dataSync()));
    tf.dispose([xs, ys]);
    model.optimizer.dispose();
    model.dispose();
    return values;
  };
  const first = await weightsAfter(11);
  assert.deepEqual(await weightsAfter(11), first);
  assert.notDeepEqual(await weightsAfter(12), first);
});
