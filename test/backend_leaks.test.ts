import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { googlenet, tf } from '../src/index';
import { seededTensor, skipWithoutAddon } from './helpers/onednn';

// A full collection before each RSS reading: between collections V8's heap breathes by ~80 MiB on this
// workload (small tensors live there), which would swamp or fake a leak.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

function rssAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().rss;
}

describe('onednn training does not leak', { skip: skipWithoutAddon }, () => {
  test('tf.memory().numTensors and RSS stay flat over 100 training steps of a small GoogLeNet', async () => {
    tf.setBackend('onednn');
    const model = googlenet({ inputShape: [32, 32, 3], widthMultiplier: 0.05, seed: 1 });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const x = seededTensor([4, 32, 32, 3], 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    const step = () => model.trainOnBatch(x, y);
    for (let i = 0; i < 30; i++) await step(); // warm-up: optimizer slots, primitive and scratch caches
    const tensors = tf.memory().numTensors;
    const rss = rssAfterGc();
    for (let i = 0; i < 70; i++) await step();
    assert.equal(tf.memory().numTensors, tensors, 'tensor count grew');
    const growth = (rssAfterGc() - rss) / 2 ** 20;
    // A leak of the step's activations (~2 MiB a step here) would add far more over 70 steps.
    assert.ok(growth < 64, `RSS grew by ${growth.toFixed(1)} MiB over 70 steps`);
    tf.dispose([x, y]);
    model.dispose();
  });
});
