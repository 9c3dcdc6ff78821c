import assert from 'node:assert/strict';
import { test } from 'node:test';
import { googlenet, inceptionModule, tf } from '../src/index';

test('googlenet defaults: 5,983,802 params, notebook layer names, 10-way softmax', () => {
  const model = googlenet();
  assert.equal(model.countParams(), 5_983_802);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  for (const name of [
    'conv_1_7x7_2',
    'max_pool_1_3x3_2',
    'conv_2a_3x3_1',
    'conv_2b_3x3_1',
    'max_pool_2_3x3_2',
    'inception_3a',
    'inception_3b',
    'max_pool_3_3x3_2',
    'inception_4a',
    'inception_4e',
    'max_pool_4_3x3_2',
    'inception_5a',
    'inception_5b',
    'avg_pool_5_3x3_1',
    'output',
  ]) {
    assert.ok(model.getLayer(name), name);
  }
  assert.deepEqual(model.getLayer('inception_3a').outputShape, [null, 28, 28, 256]);
  assert.deepEqual(model.getLayer('inception_4e').outputShape, [null, 14, 14, 832]);
  assert.deepEqual(model.getLayer('inception_5b').outputShape, [null, 7, 7, 1024]);
  model.dispose();
});

test('width multiplier scales every filter count, rounded, at least 1', () => {
  const model = googlenet({ inputShape: [32, 32, 3], widthMultiplier: 0.25 });
  assert.deepEqual(model.getLayer('conv_1_7x7_2').outputShape, [null, 16, 16, 16]);
  assert.deepEqual(model.getLayer('inception_5b').outputShape, [null, 1, 1, 256]);
  model.dispose();
  const tiny = googlenet({ inputShape: [32, 32, 3], widthMultiplier: 0.01 });
  assert.deepEqual(tiny.getLayer('inception_3a_5x5_reduce').outputShape, [null, 4, 4, 1]);
  tiny.dispose();
});

test('bad builder arguments are rejected with the value echoed', () => {
  assert.throws(() => googlenet({ inputShape: [16, 16, 3] }), /\[16,16,3\] is too small/);
  assert.throws(() => googlenet({ numClasses: 1 }), /numClasses.*got 1/);
  assert.throws(() => googlenet({ widthMultiplier: 0 }), /widthMultiplier.*got 0/);
  assert.throws(() => googlenet({ dropout: 1.5 }), /dropout.*got 1.5/);
  const x = tf.input({ shape: [8, 8, 4] });
  assert.throws(
    () =>
      inceptionModule(x, {
        filters1x1: 0,
        filters3x3Reduce: 1,
        filters3x3: 1,
        filters5x5Reduce: 1,
        filters5x5: 1,
        filtersPoolReduce: 1,
      }),
    /filters1x1.*got 0/,
  );
});

test('inceptionModule concatenates the four branches in order under its name', () => {
  const x = tf.input({ shape: [9, 7, 5] });
  const y = inceptionModule(
    x,
    {
      filters1x1: 2,
      filters3x3Reduce: 3,
      filters3x3: 4,
      filters5x5Reduce: 1,
      filters5x5: 5,
      filtersPoolReduce: 6,
    },
    'mod',
  );
  assert.deepEqual(y.shape, [null, 9, 7, 17]);
  const model = tf.model({ inputs: x, outputs: y });
  const concat = model.getLayer('mod');
  assert.equal(concat.getClassName(), 'Concatenate');
  assert.deepEqual(
    concat.inboundNodes[0].inboundLayers.map((l) => l.name),
    ['mod_1x1', 'mod_3x3', 'mod_5x5', 'mod_pool_proj'],
  );
  model.dispose();
});
