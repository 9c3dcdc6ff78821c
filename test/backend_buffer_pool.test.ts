import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tf } from '../src/index';
import { countNativeCalls, seededTensor, skipWithoutAddon } from './helpers/onednn';

// Big enough (>= 64 KiB) for the pool to recycle.
const SHAPE = [4, 32, 32, 16];

describe('onednn recycles output storage safely', { skip: skipWithoutAddon }, () => {
  test('storage of disposed outputs is reused', async () => {
    await tf.setBackend('onednn');
    const x = seededTensor(SHAPE, 1);
    const backend = tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } };
    const first = tf.relu(x);
    const storage = backend.data.get(first.dataId).values;
    first.dispose();
    const second = tf.relu(x);
    assert.equal(backend.data.get(second.dataId).values, storage, 'the second output reuses the first one');
    tf.dispose([x, second]);
  });

  test('an array read out with dataSync keeps its values after the tensor is disposed', async () => {
    await tf.setBackend('onednn');
    const x = seededTensor(SHAPE, 2);
    const y = tf.relu(x);
    const values = y.dataSync();
    const copy = values.slice();
    y.dispose();
    const others = Array.from({ length: 3 }, () => tf.neg(tf.relu(tf.neg(x))));
    assert.deepEqual(values, copy);
    tf.dispose([x, ...others]);
  });

  test('a slice view of an output keeps its values after the output is disposed', async () => {
    await tf.setBackend('onednn');
    const x = seededTensor(SHAPE, 3);
    const y = tf.relu(x);
    const view = tf.slice(y, [1], [2]); // cpu's simple slice: a view of y's storage
    const expected = tf
      .relu(tf.slice(x, [1], [2]))
      .dataSync()
      .slice();
    y.dispose();
    const others = Array.from({ length: 3 }, () => tf.mul(x, 2));
    assert.deepEqual(view.dataSync(), expected);
    tf.dispose([x, view, ...others]);
  });

  test('a variable read out with dataSync is not updated in place', async () => {
    await tf.setBackend('onednn');
    const { FusedAdamOptimizer } = await import('../src/training/fused_optimizers');
    const w = tf.variable(seededTensor(SHAPE, 4), true, 'pool_read_out');
    const optimizer = new FusedAdamOptimizer(0.1, 0.9, 0.999, 1e-7);
    const loss = () => tf.sum(tf.square(w)) as tf.Scalar;
    optimizer.minimize(loss);
    const held = w.dataSync();
    const copy = held.slice();
    assert.equal(
      countNativeCalls('adamUpdate', () => optimizer.minimize(loss)),
      1,
    );
    assert.deepEqual(held, copy, 'the array the caller holds is unchanged');
    assert.notDeepEqual(w.dataSync(), copy, 'the variable moved');
    w.dispose();
    optimizer.dispose();
  });
});
