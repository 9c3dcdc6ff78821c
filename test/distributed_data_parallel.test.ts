// DataParallel without MPI (a world of one): the wrapped model trains as the plain one (the fused step's
// weighting by sample count is exact up to float rounding), works under trainModel unchanged, reports the
// step's totals, leaks no tensors, and refuses an uncompiled model. The two-rank cases run over mpirun in
// distributed_mpi.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SingleProcessCollective } from '../src/distributed/collective';
import { DataParallel } from '../src/distributed/data_parallel';
import { backendReady, createOptimizer, googlenet, tf } from '../src/index';
import { tensorSource } from '../src/training/data_source';
import { trainModel } from '../src/training/fit';

function build(): tf.LayersModel {
  const model = googlenet({
    inputShape: [32, 32, 3],
    numClasses: 3,
    widthMultiplier: 0.1,
    dropout: 0,
    seed: 5,
  });
  model.compile({
    optimizer: createOptimizer('sgd', 0.05),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

function maxRelative(a: tf.LayersModel, b: tf.LayersModel): number {
  let worst = 0;
  a.weights.forEach((w, i) => {
    const x = w.read().dataSync();
    const y = b.weights[i].read().dataSync();
    let scale = 0;
    let diff = 0;
    for (let j = 0; j < x.length; j++) {
      scale = Math.max(scale, Math.abs(x[j]));
      diff = Math.max(diff, Math.abs(x[j] - y[j]));
    }
    if (scale > 0) worst = Math.max(worst, diff / scale);
  });
  return worst;
}

test('a world of one trains as the plain model, under trainModel, without leaks', async () => {
  await backendReady;
  const xs = tf.randomUniform([12, 32, 32, 3], 0, 1, 'float32', 1);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3);
  const plain = build();
  const wrapped = build();
  const parallel = await DataParallel.create(wrapped, new SingleProcessCollective());
  for (const model of [plain, wrapped]) {
    await trainModel(model, tensorSource(xs, ys, { batchSize: 5, shuffle: true, seed: 3 }), { epochs: 2 });
  }
  const relative = maxRelative(plain, wrapped);
  assert.ok(relative < 1e-5, `max relative difference ${relative}`);
  const fresh = build();
  assert.ok(
    maxRelative(fresh, plain) > 1e-3,
    'the weights moved: equal untrained models would prove nothing',
  );
  fresh.dispose();
  assert.equal(parallel.lastStep?.samples, 2, 'the last batch of 12 by 5 holds 2');
  assert.equal(parallel.lastStep?.means.length, 2, 'loss and accuracy');

  const before = tf.memory().numTensors;
  const [x, y] = [xs.slice(0, 4), ys.slice(0, 4)];
  const means = await wrapped.trainOnBatch(x, y);
  await wrapped.trainOnBatch(x, y);
  assert.equal([means].flat().length, 2);
  tf.dispose([x, y]);
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind by a step');

  parallel.detach();
  assert.equal(wrapped.trainOnBatch, tf.LayersModel.prototype.trainOnBatch);
  tf.dispose([xs, ys]);
});

test('an uncompiled model is refused', async () => {
  const model = googlenet({ inputShape: [32, 32, 3], numClasses: 3, widthMultiplier: 0.1 });
  await assert.rejects(
    DataParallel.create(model, new SingleProcessCollective()),
    /DataParallel: compile the model first/,
  );
});
