import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { csvLogger } from '../src/training/csv_logger';
import { earlyStopping } from '../src/training/early_stopping';
import { trainModel } from '../src/training/fit';
import { learningRateScheduler } from '../src/training/learning_rate_scheduler';
import { formatFilepath, modelCheckpoint } from '../src/training/model_checkpoint';
import { getLearningRate } from '../src/training/optimizers';
import { reduceLROnPlateau } from '../src/training/reduce_lr_on_plateau';
import { fakeContext, recorder, scripted, sources, tinyModel, weightsOf } from './training_helpers';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Drives a callback's onEpochEnd with a scripted monitor sequence; returns the lr after each epoch. */
function drive(cb: ReturnType<typeof reduceLROnPlateau>, values: number[], lr = 1): number[] {
  const model = tinyModel();
  const ctx = fakeContext(model, lr);
  cb.setContext(ctx);
  cb.onTrainBegin();
  const lrs = values.map((v, epoch) => {
    cb.onEpochEnd(epoch, { val_loss: v });
    return ctx.lr;
  });
  model.dispose();
  return lrs;
}

test('reduceLROnPlateau: reduces after `patience` epochs without improvement, honours cooldown and minLr', () => {
  const flat = [1, 1, 1, 1, 1, 1, 1];
  assert.deepEqual(
    drive(reduceLROnPlateau({ patience: 2, factor: 0.5 }), flat),
    [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125],
  );
  // cooldown 2: the two epochs after a reduction do not count.
  assert.deepEqual(
    drive(reduceLROnPlateau({ patience: 2, factor: 0.5, cooldown: 2 }), flat),
    [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25],
  );
  assert.deepEqual(
    drive(reduceLROnPlateau({ patience: 1, factor: 0.1, minLr: 0.05 }), flat),
    [1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05],
  );
  // Improvements smaller than minDelta (1e-4 by default) do not reset the wait.
  assert.deepEqual(
    drive(reduceLROnPlateau({ patience: 2, factor: 0.5 }), [1, 0.99995, 0.9999, 0.5]),
    [1, 1, 0.5, 0.5],
  );
  // mode auto: accuracy-like monitors are maximised.
  const acc = reduceLROnPlateau({ monitor: 'val_accuracy', patience: 1, factor: 0.5 });
  const model = tinyModel();
  const ctx = fakeContext(model, 1);
  acc.setContext(ctx);
  acc.onTrainBegin();
  acc.onEpochEnd(0, { val_accuracy: 0.5 });
  acc.onEpochEnd(1, { val_accuracy: 0.6 });
  assert.equal(ctx.lr, 1);
  acc.onEpochEnd(2, { val_accuracy: 0.6 });
  assert.equal(ctx.lr, 0.5);
  model.dispose();
  assert.throws(() => reduceLROnPlateau({ factor: 1 }), /factor must be in \(0, 1\), got 1/);
});

test('reduceLROnPlateau in a real run changes the optimizer learning rate and logs lr', async () => {
  const data = sources();
  const model = tinyModel('adam', 0.01);
  // Nothing counts as an improvement after the first epoch: the rate drops after epochs 3 and 5.
  const result = await trainModel(model, data.train, {
    epochs: 6,
    validationData: data.val,
    callbacks: [reduceLROnPlateau({ monitor: 'val_loss', patience: 2, factor: 0.5, minDelta: 1e9 })],
  });
  const lrs = result.history.history.lr.map((v) => Number(v.toPrecision(6)));
  assert.deepEqual(lrs, [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]);
  assert.equal(getLearningRate(model.optimizer), 0.0025);
  model.dispose();
  data.dispose();
});

test('learningRateScheduler sets the rate every optimizer really applies (rate 0 freezes the weights)', async () => {
  for (const name of ['adam', 'rmsprop', 'sgd']) {
    const data = sources();
    const model = tinyModel(name, 0.05);
    const seen: Float32Array[][] = [];
    const lrs: number[] = [];
    await trainModel(model, data.train, {
      epochs: 3,
      callbacks: [
        learningRateScheduler((epoch, lr) => (epoch === 2 ? 0 : lr * 0.5)),
        recorder((_e, logs) => {
          seen.push(weightsOf(model));
          lrs.push(logs.lr);
        }),
      ],
    });
    assert.deepEqual(lrs, [0.025, 0.0125, 0], name);
    assert.notDeepEqual(seen[1], seen[0], `${name}: weights move while lr > 0`);
    assert.deepEqual(seen[2], seen[1], `${name}: lr 0 must leave the weights alone`);
    model.dispose();
    data.dispose();
  }
});

test('earlyStopping stops after `patience` bad epochs and restores the best weights', async () => {
  const data = sources();
  const model = tinyModel();
  const weights: Float32Array[][] = [];
  const es = earlyStopping({ monitor: 'score', mode: 'min', patience: 2, restoreBestWeights: true });
  const result = await trainModel(model, data.train, {
    epochs: 10,
    callbacks: [
      scripted('score', [3, 2, 2.5, 2.6, 2.7, 1]),
      recorder(() => weights.push(weightsOf(model))),
      es,
    ],
  });
  assert.equal(result.stoppedEarly, true);
  assert.deepEqual(result.history.epoch, [0, 1, 2, 3]);
  assert.equal(es.stoppedEpoch, 3);
  assert.equal(es.bestEpoch, 1);
  assert.deepEqual(weightsOf(model), weights[1]);
  assert.notDeepEqual(weights[3], weights[1]);
  model.dispose();
  data.dispose();
});

test('earlyStopping without restoreBestWeights keeps the last weights; minDelta and baseline count', () => {
  const model = tinyModel();
  const ctx = fakeContext(model);
  const es = earlyStopping({ monitor: 'val_loss', patience: 1, minDelta: 0.1 });
  es.setContext(ctx);
  es.onTrainBegin();
  es.onEpochEnd(0, { val_loss: 1 });
  es.onEpochEnd(1, { val_loss: 0.95 }); // not better by 0.1
  assert.equal(ctx.stopTraining, true);
  const withBaseline = earlyStopping({ monitor: 'val_accuracy', patience: 2, baseline: 0.9 });
  const ctx2 = fakeContext(model);
  withBaseline.setContext(ctx2);
  withBaseline.onTrainBegin();
  const noBaseline = earlyStopping({ monitor: 'val_accuracy', patience: 2 });
  const ctx3 = fakeContext(model);
  noBaseline.setContext(ctx3);
  noBaseline.onTrainBegin();
  for (const [e, v] of [0.5, 0.6, 0.6].entries()) {
    withBaseline.onEpochEnd(e, { val_accuracy: v });
    noBaseline.onEpochEnd(e, { val_accuracy: v });
  }
  // Improvements that never beat the baseline do not reset the wait (Keras).
  assert.equal(ctx2.stopTraining, true);
  assert.equal(ctx3.stopTraining, false);
  model.dispose();
});

test('modelCheckpoint with saveBestOnly writes only on improvement, atomically', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ckpt-'));
  const data = sources();
  const model = tinyModel();
  const ckpt = modelCheckpoint({ filepath: path.join(dir, 'best'), monitor: 'score', saveBestOnly: true });
  const saved: number[] = [];
  const weights: Float32Array[][] = [];
  await trainModel(model, data.train, {
    epochs: 5,
    callbacks: [
      scripted('score', [3, 2, 2.5, 1, 1.5]),
      ckpt,
      recorder(() => {
        saved.push(ckpt.lastSavedEpoch);
        weights.push(weightsOf(model));
      }),
    ],
  });
  assert.deepEqual(saved, [0, 1, 1, 3, 3]);
  assert.deepEqual(await fs.readdir(dir), ['best'], 'no temp folders left behind');
  const loaded = await tf
    .loadLayersModel(`file://${path.join(dir, 'best', 'model.json')}`)
    .catch(async () => {
      const { folderLoader } = await import('../src/io/model_folder');
      return tf.loadLayersModel(folderLoader(path.join(dir, 'best')));
    });
  assert.deepEqual(weightsOf(loaded), weights[3]);
  // Every epoch when saveBestOnly is off, with Keras-style fields in the path.
  assert.equal(formatFilepath('ckpt-{epoch:02d}-{val_loss:.2f}', 2, { val_loss: 0.4567 }), 'ckpt-03-0.46');
  model.dispose();
  loaded.dispose();
  data.dispose();
  await fs.rm(dir, { recursive: true });
});

test('csvLogger writes the Keras CSV: epoch then sorted metric names, one row per epoch', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'csv-'));
  const file = path.join(dir, 'history.csv');
  const data = sources();
  const model = tinyModel();
  await trainModel(model, data.train, { epochs: 3, validationData: data.val, callbacks: [csvLogger(file)] });
  const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
  assert.equal(lines[0], 'epoch,accuracy,loss,lr,val_accuracy,val_loss');
  assert.equal(lines.length, 4);
  assert.deepEqual(
    lines.slice(1).map((l) => l.split(',')[0]),
    ['0', '1', '2'],
  );
  for (const l of lines.slice(1))
    assert.ok(
      l
        .split(',')
        .slice(1)
        .every((v) => Number.isFinite(Number(v))),
      l,
    );
  model.dispose();
  data.dispose();
  await fs.rm(dir, { recursive: true });
});

test('training metrics: accuracy rises on separable data, top5 logged with >= 5 classes, no tensor leak', async () => {
  const data = sources();
  const model = tinyModel('adam', 0.05);
  const counts: number[] = [];
  const result = await trainModel(model, data.train, {
    epochs: 8,
    validationData: data.val,
    callbacks: [recorder(() => counts.push(tf.memory().numTensors))],
  });
  const acc = result.history.history.val_accuracy;
  assert.ok(acc[acc.length - 1] > 0.8, `val_accuracy ${acc}`);
  assert.equal(counts[counts.length - 1], counts[1], `tensor count across epochs: ${counts}`);
  model.dispose();
  data.dispose();
  // Six classes: top5 appears and is at least as high as accuracy.
  const six = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 6,
        activation: 'softmax',
        inputShape: [4],
        kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
      }),
    ],
  });
  const { compileClassifier } = await import('../src/training/metrics');
  const { createOptimizer } = await import('../src/training/optimizers');
  const { tensorSource } = await import('../src/training/data_source');
  compileClassifier(six, createOptimizer('sgd', 0.01));
  const xs = tf.randomNormal([12, 4], 0, 1, 'float32', 3);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5], 'int32'), 6).cast('float32');
  const r = await trainModel(six, tensorSource(xs, ys, { batchSize: 4 }), { epochs: 1 });
  assert.ok(r.history.history.top5[0] >= r.history.history.accuracy[0]);
  assert.ok(r.history.history.top5[0] > 0);
  tf.dispose([xs, ys]);
  six.dispose();
});
