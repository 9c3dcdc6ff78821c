import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { googlenet, tf } from '../src/index';
import { seededTensor, skipWithoutAddon } from './helpers/onednn';

describe('onednn training does not leak', { skip: skipWithoutAddon }, () => {
  test('tf.memory().numTensors and RSS stay flat over 100 training steps of a small GoogLeNet', async () => {
    tf.setBackend('onednn');
    const model = googlenet({ inputShape: [32, 32, 3], widthMultiplier: 0.05 });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const x = seededTensor([4, 32, 32, 3], 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    const step = () => model.trainOnBatch(x, y);
    for (let i = 0; i < 10; i++) await step(); // warm-up: optimizer slots, primitive and scratch caches
    const tensors = tf.memory().numTensors;
    const rss = process.memoryUsage().rss;
    for (let i = 0; i < 90; i++) await step();
    assert.equal(tf.memory().numTensors, tensors, 'tensor count grew');
    const growth = (process.memoryUsage().rss - rss) / 2 ** 20;
    // Loose: V8's heap breathes by some MB; a leak of the step's activations would add far more.
    assert.ok(growth < 64, `RSS grew by ${growth.toFixed(1)} MiB over 90 steps`);
    tf.dispose([x, y]);
    model.dispose();
  });
});
