import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../src/training/callback';
import { loadCheckpoint, restoreOptimizer, saveCheckpoint } from '../src/training/checkpoint';
import { earlyStopping } from '../src/training/early_stopping';
import { trainModel } from '../src/training/fit';
import { compileClassifier } from '../src/training/metrics';
import { createOptimizer, getLearningRate } from '../src/training/optimizers';
import { reduceLROnPlateau } from '../src/training/reduce_lr_on_plateau';
import { sources, tinyModel, weightsOf } from './training_helpers';

test.before(async () => {
  await tf.setBackend('cpu');
});

const EPOCHS = 4;
/** Seeded dropout: the resumed run must draw the masks the uninterrupted run drew at the same steps. */
const DROPOUT = 0.25;
const callbacksFor = (): Callback[] => [
  // Nothing improves after the first epoch: the rate halves every epoch from the second on.
  reduceLROnPlateau({ monitor: 'loss', patience: 1, factor: 0.5, minDelta: 1e9 }),
  earlyStopping({ monitor: 'loss', patience: 100, restoreBestWeights: true }),
];

async function optimizerState(model: tf.LayersModel): Promise<number[][]> {
  const ws = await model.optimizer.getWeights();
  return ws.map((w) => Array.from(w.tensor.dataSync()));
}

for (const optimizerName of ['adam', 'sgd', 'rmsprop']) {
  test(`resume (${optimizerName}, seeded dropout): interrupted mid-epoch, continued from checkpoints/last, ends where an uninterrupted run ends`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'resume-'));
    const last = path.join(dir, 'last');
    // The uninterrupted run.
    const a = sources();
    const modelA = tinyModel(optimizerName, 0.05, 7, DROPOUT);
    const runA = await trainModel(modelA, a.train, {
      epochs: EPOCHS,
      validationData: a.val,
      callbacks: callbacksFor(),
    });

    // The same run, interrupted during epoch 3 (index 2) after its second step.
    const b = sources();
    const modelB = tinyModel(optimizerName, 0.05, 7, DROPOUT);
    const controller = new AbortController();
    const stopper: Callback = {
      name: 'stopper',
      onEpochBegin(epoch) {
        if (epoch === 2) this.onBatchEnd = (batch) => (batch === 1 ? controller.abort() : undefined);
      },
    };
    const runB = await trainModel(modelB, b.train, {
      epochs: EPOCHS,
      validationData: b.val,
      callbacks: [...callbacksFor(), stopper],
      signal: controller.signal,
      onSnapshot: (s) => saveCheckpoint(last, modelB, s, { note: 'meta round trip' }),
    });
    assert.equal(runB.interrupted, true);
    assert.deepEqual(runB.history.epoch, [0, 1]);
    modelB.optimizer.dispose();
    modelB.dispose();

    // A new process would do this: load the checkpoint, fresh optimizer, restore, continue.
    const ckpt = await loadCheckpoint<{ note: string }>(last);
    assert.equal(ckpt.meta.note, 'meta round trip');
    assert.equal(ckpt.snapshot.epoch, 2);
    assert.equal(ckpt.snapshot.step, 2);
    const modelC = ckpt.model;
    compileClassifier(modelC, createOptimizer(optimizerName, 0.05));
    await restoreOptimizer(modelC.optimizer, ckpt);
    const runC = await trainModel(modelC, b.train, {
      epochs: EPOCHS,
      validationData: b.val,
      callbacks: callbacksFor(),
      resume: ckpt.snapshot,
    });
    assert.equal(runC.interrupted, false);
    assert.deepEqual(runC.history.epoch, [0, 1, 2, 3]);
    assert.equal(getLearningRate(modelC.optimizer), getLearningRate(modelA.optimizer));
    assert.equal(getLearningRate(modelC.optimizer), 0.05 / 8);
    const [wa, wc] = [weightsOf(modelA), weightsOf(modelC)];
    wa.forEach((w, i) => {
      for (let j = 0; j < w.length; j++)
        assert.ok(Math.abs(w[j] - wc[i][j]) < 1e-5, `weight ${i}[${j}]: ${w[j]} vs ${wc[i][j]}`);
    });
    const [oa, oc] = [await optimizerState(modelA), await optimizerState(modelC)];
    assert.equal(oc[0][0], oa[0][0], 'optimizer iterations');
    assert.equal(oc.length, oa.length);
    runA.history.history.loss.forEach((l, i) => {
      assert.ok(Math.abs(l - runC.history.history.loss[i]) < 1e-5, `loss of epoch ${i}`);
    });
    for (const m of [modelA, modelC]) {
      m.optimizer.dispose();
      m.dispose();
    }
    a.dispose();
    b.dispose();
    await fs.rm(dir, { recursive: true });
  });
}

test('loadCheckpoint: missing or truncated state gives a one-line error naming the file', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'resume-bad-'));
  await assert.rejects(loadCheckpoint(path.join(dir, 'last')), /last: no checkpoint to resume from/);
  const data = sources();
  const model = tinyModel();
  await trainModel(model, data.train, {
    epochs: 1,
    onSnapshot: (s) => saveCheckpoint(path.join(dir, 'last'), model, s, null),
  });
  const ckpt = await loadCheckpoint(path.join(dir, 'last'));
  compileClassifier(ckpt.model, createOptimizer('sgd', 0.1));
  await assert.rejects(
    restoreOptimizer(ckpt.model.optimizer, ckpt),
    /last: the checkpoint holds Adam state, not Momentum/,
  );
  ckpt.model.dispose();
  const bin = path.join(dir, 'last', 'state.bin');
  const bytes = await fs.readFile(bin);
  await fs.writeFile(bin, bytes.subarray(0, bytes.length - 4));
  await assert.rejects(
    loadCheckpoint(path.join(dir, 'last')),
    /state\.bin: \d+ bytes but state\.json describes \d+/,
  );
  model.dispose();
  data.dispose();
  await fs.rm(dir, { recursive: true });
});
