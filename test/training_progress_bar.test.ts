import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { trainModel } from '../src/training/fit';
import { formatBar, formatEta, formatStepTime, formatValue, ProgressBar } from '../src/training/progress_bar';
import { TimeBudget } from '../src/training/time_budget';
import { trainingCurvesSvg } from '../src/training/training_curves';
import { fakeContext, sources, tinyModel } from './training_helpers';

test.before(async () => {
  await tf.setBackend('cpu');
});

function sink(isTTY = false) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (t: string) => chunks.push(t) }, text: () => chunks.join('') };
}

test('Keras Progbar pieces: bar, ETA, step time, values', () => {
  assert.equal(formatBar(12, 40), '12/40 [========>.....................]');
  assert.equal(formatBar(40, 40), '40/40 [==============================]');
  assert.equal(formatBar(0, 40), ' 0/40 [..............................]');
  assert.equal(formatBar(1, 3), '1/3 [=========>....................]');
  assert.equal(formatEta(3.2), '3s');
  assert.equal(formatEta(65), '1:05');
  assert.equal(formatEta(3723), '1:02:03');
  assert.equal(formatStepTime(2.4), '2s/step');
  assert.equal(formatStepTime(0.12), '120ms/step');
  assert.equal(formatStepTime(0.00008), '80us/step');
  assert.equal(formatValue(1.23456), '1.2346');
  assert.equal(formatValue(0.0001), '1.0000e-04');
  assert.equal(formatValue(0), '0.0000e+00');
});

test('progress bar without a TTY: plain lines every `interval` seconds and at the epoch end, no carriage returns', () => {
  const out = sink(false);
  let clock = 0;
  const bar = new ProgressBar({ stream: out.stream, interval: 10, now: () => clock });
  const model = tinyModel();
  const ctx = fakeContext(model);
  ctx.epochs = 3;
  ctx.stepsPerEpoch = 6;
  bar.setContext(ctx);
  bar.onEpochBegin(0, { step: 0 });
  for (let step = 0; step < 6; step++) {
    clock += 4000;
    bar.onBatchEnd(step, { loss: 1 / (step + 1), accuracy: 0.5 });
  }
  bar.onEpochEnd(0, { loss: 0.25, accuracy: 0.75, val_loss: 0.3, val_accuracy: 0.7, lr: 0.001 });
  assert.ok(!out.text().includes('\r'));
  assert.deepEqual(out.text().split('\n'), [
    'Epoch 1/3',
    '3/6 [==============>...............] - ETA: 12s - loss: 0.3333 - accuracy: 0.5000',
    '6/6 [==============================] - 24s 4s/step - loss: 0.2500 - accuracy: 0.7500 - val_loss: 0.3000 - val_accuracy: 0.7000 - lr: 1.0000e-03',
    '',
  ]);
  model.dispose();
});

test('progress bar on a TTY redraws one line with carriage returns', () => {
  const out = sink(true);
  const bar = new ProgressBar({ stream: out.stream });
  const model = tinyModel();
  const ctx = fakeContext(model);
  bar.setContext(ctx);
  bar.onEpochBegin(1, { step: 0 });
  for (let step = 0; step < 4; step++) bar.onBatchEnd(step, { loss: 1 });
  bar.onEpochEnd(1, { loss: 1 });
  const text = out.text();
  assert.match(text, /^Epoch 2\/10\n\r1\/4 \[======>\.+\] - ETA: \d+s - loss: 1\.0000\r2\/4 /);
  assert.match(text, /\r4\/4 \[=+\] - 0s \d+us\/step - loss: 1\.0000\n$/);
  model.dispose();
});

test('progress bar in a real run, handed a stream', async () => {
  const out = sink(false);
  const data = sources();
  const model = tinyModel();
  await trainModel(model, data.train, {
    epochs: 2,
    validationData: data.val,
    callbacks: [new ProgressBar({ stream: out.stream })],
  });
  const lines = out.text().trim().split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], 'Epoch 1/2');
  assert.match(
    lines[1],
    /^3\/3 \[={30}\] - \d+s \d+m?s\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - lr: 0\.0100$/,
  );
  model.dispose();
  data.dispose();
});

test('time budget stops at an epoch end once another epoch would overrun it', () => {
  let clock = 0;
  const budget = new TimeBudget(
    25,
    () => {},
    () => clock,
  );
  const model = tinyModel();
  const ctx = fakeContext(model);
  budget.setContext(ctx);
  budget.onTrainBegin();
  for (let epoch = 0; epoch < 5 && !ctx.stopTraining; epoch++) {
    budget.onEpochBegin();
    clock += 10_000;
    budget.onEpochEnd(epoch, {});
  }
  assert.equal(clock, 20_000, 'two 10 s epochs fit 25 s, a third would not');
  model.dispose();
});

test('training curves: a self-contained SVG with loss and accuracy, train and val', () => {
  const rows = [0, 1, 2].map((epoch) => ({
    epoch,
    logs: {
      loss: 1 - epoch * 0.2,
      accuracy: 0.4 + epoch * 0.1,
      val_loss: 1.1 - epoch * 0.2,
      val_accuracy: 0.3 + epoch * 0.1,
    },
  }));
  const svg = trainingCurvesSvg(rows, 'a <run>');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<title>a &lt;run&gt;<\/title>/);
  assert.equal((svg.match(/<path /g) ?? []).length, 4);
  assert.equal((svg.match(/<circle /g) ?? []).length, 12);
  assert.doesNotMatch(svg, /NaN|undefined/);
  assert.doesNotMatch(svg, /href=|<script/, 'no external references');
  const trainOnly = trainingCurvesSvg(
    rows.map((r) => ({ epoch: r.epoch, logs: { loss: r.logs.loss, accuracy: r.logs.accuracy } })),
  );
  assert.equal((trainOnly.match(/<path /g) ?? []).length, 2);
});
