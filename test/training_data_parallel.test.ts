import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../src/training/callback';
import { tensorSource } from '../src/training/data_source';
import { type FitResult, type TrainingSnapshot, trainModel } from '../src/training/fit';
import { compileClassifier } from '../src/training/metrics';
import { createOptimizer } from '../src/training/optimizers';
import { reduceLROnPlateau } from '../src/training/reduce_lr_on_plateau';
import { localCollectives } from './helpers/local_collective';
import { blobs, weightsOf } from './training_helpers';

test.before(async () => {
  await tf.setBackend('cpu');
});

// 17 images in global batches of 8: 8, 8, 1. On 3 ranks the last batch leaves two ranks with nothing.
const N = 17;
const BATCH = 8;
const EPOCHS = 3;

const callbacksFor = (): Callback[] => [
  // Patience 0 and a huge min delta: the rate drops every epoch, so a rank deciding otherwise shows.
  reduceLROnPlateau({ monitor: 'val_loss', patience: 0, factor: 0.5, minDelta: 1e9 }),
];

/**
 * dense(8, relu) → dense(3, softmax) with fixed layer names: DataParallel checks that every rank holds rank
 * 0's weights by name, and in-process ranks would otherwise get numbered auto-names.
 */
function tinyModel(optimizer: string, lr: number, seed: number): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        name: 'hidden',
        units: 8,
        activation: 'relu',
        inputShape: [4],
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({
        name: 'out',
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
  compileClassifier(model, createOptimizer(optimizer, lr));
  return model;
}

interface Run {
  result: FitResult;
  weights: Float32Array[];
}

async function runRanks(
  size: number,
  makeModel: (rank: number) => tf.LayersModel,
  abortAt?: { rank: number; epoch: number; batch: number },
): Promise<Run[]> {
  const train = blobs(N, 21);
  const val = blobs(11, 22);
  const collectives = size > 1 ? localCollectives(size) : [undefined];
  try {
    return await Promise.all(
      collectives.map(async (collective, rank) => {
        const shard = { rank, size };
        const model = makeModel(rank);
        const controller = new AbortController();
        const stopper: Callback = {
          name: 'stopper',
          onBatchEnd(batch) {
            if (abortAt?.rank === rank && this.epoch === abortAt.epoch && batch === abortAt.batch)
              controller.abort();
          },
          onEpochBegin(epoch) {
            this.epoch = epoch;
          },
        } as Callback & { epoch?: number };
        const result = await trainModel(
          model,
          tensorSource(train.xs, train.ys, { batchSize: BATCH, seed: 5, shard }),
          {
            epochs: EPOCHS,
            validationData: tensorSource(val.xs, val.ys, { batchSize: 4, shuffle: false, shard }),
            callbacks: [...callbacksFor(), stopper],
            signal: controller.signal,
            collective,
          },
        );
        const weights = weightsOf(model);
        model.optimizer.dispose();
        model.dispose();
        return { result, weights };
      }),
    );
  } finally {
    tf.dispose([train.xs, train.ys, val.xs, val.ys]);
  }
}

function assertClose(actual: number[], expected: number[], rel: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.ok(Math.abs(a - e) <= rel * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  });
}

function assertSameRun(ranks: Run[], single: Run, label: string): void {
  for (const [r, run] of ranks.entries()) {
    // Every rank bit-identical to rank 0: same weights, same logged numbers, same learning-rate decisions.
    assert.deepEqual(run.weights, ranks[0].weights, `${label}: rank ${r} weights differ from rank 0's`);
    assert.deepEqual(run.result.history, ranks[0].result.history, `${label}: rank ${r} history`);
  }
  const h = ranks[0].result.history.history;
  assert.deepEqual(Object.keys(h).sort(), Object.keys(single.result.history.history).sort());
  for (const [k, values] of Object.entries(single.result.history.history))
    assertClose(h[k], values, 1e-5, `${label}: ${k}`);
  // ReduceLROnPlateau acted (so the equal lr histories above show that it decided the same way).
  assert.deepEqual(h.lr, [0.05, 0.05, 0.025], `${label}: learning rates`);
  single.weights.forEach((w, i) => {
    assertClose(Array.from(ranks[0].weights[i]), Array.from(w), 1e-5, `${label}: weight ${i}`);
  });
}

for (const optimizer of ['adam', 'sgd']) {
  test(`data parallel (${optimizer}): 2 and 3 in-process ranks end where one process with the same global batch ends`, async () => {
    const tensorsBefore = tf.memory().numTensors;
    const [single] = await runRanks(1, () => tinyModel(optimizer, 0.05, 7));
    // Rank 1 starts from other weights: rank 0's broadcast must replace them.
    const two = await runRanks(2, (rank) => tinyModel(optimizer, 0.05, rank === 1 ? 99 : 7));
    assertSameRun(two, single, '2 ranks');
    const three = await runRanks(3, () => tinyModel(optimizer, 0.05, 7));
    assertSameRun(three, single, '3 ranks (one batch leaves ranks empty)');
    // tfjs's momentum optimizer keeps one scalar past dispose(), one per model, data-parallel or not.
    const leftByOptimizer = optimizer === 'sgd' ? 6 : 0;
    assert.equal(tf.memory().numTensors - leftByOptimizer, tensorsBefore, 'no tensors leaked');
  });
}

test('data parallel: a signal on one rank stops every rank after the same step, each with the same snapshot', async () => {
  const snapshots: TrainingSnapshot[] = [];
  const runs = await runRanks(2, () => tinyModel('adam', 0.05, 7), { rank: 1, epoch: 1, batch: 0 });
  for (const run of runs) {
    assert.equal(run.result.interrupted, true);
    assert.ok(run.result.lastSnapshot);
    snapshots.push(run.result.lastSnapshot);
  }
  // Rank 1 saw the signal after step 0 of epoch 1; its flag travels with step 1, after which both stop.
  assert.equal(snapshots[0].epoch, 1);
  assert.equal(snapshots[0].step, 2);
  assert.deepEqual(snapshots[1], snapshots[0]);
  assert.deepEqual(runs[1].weights, runs[0].weights);
});

test('data parallel with batch norm: moving statistics are averaged, so every rank holds the same model', async () => {
  const bnModel = (seed: number) => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          name: 'hidden',
          units: 6,
          inputShape: [4],
          kernelInitializer: tf.initializers.glorotUniform({ seed }),
        }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.activation({ name: 'relu', activation: 'relu' }),
        tf.layers.dense({
          name: 'out',
          units: 3,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
        }),
      ],
    });
    compileClassifier(model, createOptimizer('adam', 0.05));
    return model;
  };
  const runs = await runRanks(2, () => bnModel(3));
  assert.deepEqual(runs[1].weights, runs[0].weights);
  assert.deepEqual(runs[1].result.history, runs[0].result.history);
  // Without the averaging, each rank's moving mean would follow its own images: check it moved at all.
  const fresh = bnModel(3);
  const movingMean = fresh
    .getWeights()
    .findIndex((_, i) => /moving_mean/.test(fresh.weights[i].originalName));
  assert.notDeepEqual(runs[0].weights[movingMean], fresh.getWeights()[movingMean].dataSync());
  fresh.dispose();
});
