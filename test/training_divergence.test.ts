// A diverging run stops with one error and saves nothing diverged: TerminateOnNaN, and model and checkpoint
// writers that refuse NaN weights whoever calls them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { saveModelFolder } from '../src/io/model_folder';
import { saveCheckpoint } from '../src/training/checkpoint';
import { tensorSource } from '../src/training/data_source';
import { trainModel } from '../src/training/fit';
import { modelCheckpoint } from '../src/training/model_checkpoint';
import { TerminateOnNaN, TrainingDivergedError, terminateOnNaN } from '../src/training/terminate_on_nan';
import { removeDir, tempDir } from './data_fixtures';
import { CLI_MAIN, CPU_ENV, colourFolder, TINY_TRAIN_FLAGS } from './training_fixtures';
import { blobs, fakeContext, tinyModel } from './training_helpers';

let dir: string;

before(async () => {
  await tf.setBackend('cpu');
  dir = await tempDir();
});

after(async () => {
  await removeDir(dir);
});

/** Every file under `root` with its SHA-256, so "left as it was" can be checked byte for byte. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(root, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile()) {
      out[path.relative(root, full)] = createHash('sha256')
        .update(await fs.readFile(full))
        .digest('hex');
    }
  }
  return out;
}

function poison(model: tf.LayersModel): void {
  const [kernel, bias] = model.layers[1].getWeights();
  const nan = tf.fill(kernel.shape, Number.NaN);
  model.layers[1].setWeights([nan, bias]);
  nan.dispose();
}

test('terminateOnNaN: a NaN batch loss throws naming epoch and batch; so do non-finite epoch logs and weights', () => {
  const model = tinyModel();
  const cb = terminateOnNaN();
  cb.setContext(fakeContext(model));
  cb.onEpochBegin(2);
  cb.onBatchEnd(0, { loss: 0.5 });
  assert.throws(
    () => cb.onBatchEnd(3, { loss: Number.NaN }),
    /training diverged: loss is NaN at epoch 3, batch 4/,
  );
  assert.throws(
    () => cb.onEpochEnd(0, { loss: 0.4, val_loss: Number.POSITIVE_INFINITY }),
    /val_loss is Infinity/,
  );
  cb.onEpochEnd(0, { loss: 0.4, val_loss: 0.5 });
  poison(model);
  assert.throws(
    () => cb.onEpochEnd(0, { loss: 0.4 }),
    (e: Error) => e instanceof TrainingDivergedError && /weight dense_\w+\/kernel holds NaN/.test(e.message),
  );
  model.dispose();
});

test('trainModel with terminateOnNaN before modelCheckpoint: a diverging run saves no checkpoint', async () => {
  const model = tinyModel();
  // One NaN input in the second batch of 16 makes that batch's loss NaN.
  const { xs, ys } = blobs(48, 11);
  const values = xs.arraySync();
  values[20][1] = Number.NaN;
  const poisoned = tf.tensor2d(values);
  const filepath = path.join(dir, 'ckpt');
  let snapshots = 0;
  await assert.rejects(
    trainModel(model, tensorSource(poisoned, ys, { batchSize: 16, shuffle: false }), {
      epochs: 3,
      callbacks: [terminateOnNaN(), modelCheckpoint({ filepath, monitor: 'loss', print: () => {} })],
      onSnapshot: async () => {
        snapshots++;
      },
    }),
    /training diverged: loss is NaN at epoch 1, batch 2/,
  );
  assert.equal(snapshots, 0);
  await assert.rejects(fs.stat(filepath), /ENOENT/);
  tf.dispose([xs, ys, poisoned]);
  model.dispose();
});

test('the model and checkpoint writers refuse NaN weights, naming the folder and the weight', async () => {
  const model = tinyModel();
  poison(model);
  const out = path.join(dir, 'nan-model');
  await assert.rejects(
    saveModelFolder(out, model, {
      model: 'tiny',
      widthMultiplier: 1,
      labels: ['a', 'b', 'c'],
      preprocessing: { inputShape: [4, 1, 1], mean: [0], std: [1], resize: 'fill' },
    }),
    new RegExp(`^Error: ${out}: refusing to save weights holding NaN or Infinity \\(dense_\\w+/kernel\\)`),
  );
  await assert.rejects(fs.stat(path.join(out, 'weights.bin')), /ENOENT/);
  const last = path.join(dir, 'nan-last');
  await assert.rejects(
    saveCheckpoint(
      last,
      model,
      { epoch: 1, step: 0, progress: null, learningRate: 0.1, callbacks: {}, history: [] },
      {},
    ),
    /refusing to save weights holding NaN/,
  );
  await assert.rejects(fs.stat(last), /ENOENT/);
  model.dispose();
});

test('inception train --lr 1e3 over a working model folder: exit 1, one line, the folder byte-identical', async () => {
  const data = await colourFolder(path.join(dir, 'colours'), 4, 0);
  const out = path.join(dir, 'runs', 'good');
  const good = spawnSync(
    process.execPath,
    [CLI_MAIN, 'train', '--data', data, ...TINY_TRAIN_FLAGS, '--epochs', '1', '--out', out],
    {
      encoding: 'utf8',
      env: CPU_ENV,
    },
  );
  assert.equal(good.status, 0, good.stderr);
  const before = await snapshot(out);
  const bad = spawnSync(
    process.execPath,
    [CLI_MAIN, 'train', '--data', data, ...TINY_TRAIN_FLAGS, '--lr', '1e3', '--epochs', '1', '--out', out],
    { encoding: 'utf8', env: CPU_ENV },
  );
  assert.equal(bad.status, 1, bad.stderr);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /^inception train: error: training diverged: loss is NaN at epoch 1, batch \d+/);
  assert.deepEqual(await snapshot(out), before);
  const predict = spawnSync(
    process.execPath,
    [CLI_MAIN, 'predict', '--model-dir', out, path.join(data, 'red', '000.png')],
    {
      encoding: 'utf8',
      env: CPU_ENV,
    },
  );
  assert.equal(predict.status, 0, predict.stderr);
  assert.doesNotMatch(predict.stdout, /NaN/);
});

test('TerminateOnNaN is exported with the other callbacks', async () => {
  const lib = await import('../src/training/index');
  assert.equal(lib.terminateOnNaN().constructor, TerminateOnNaN);
});
