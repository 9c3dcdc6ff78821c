import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tf } from '../src/index';
import {
  assertSameOnBackends,
  countNativeCalls,
  runOn,
  seededTensor,
  skipWithoutAddon,
} from './helpers/onednn';

describe('onednn Relu and Step (the ReLU gradient path) match cpu', { skip: skipWithoutAddon }, () => {
  for (const shape of [[3, 9, 7, 13], [1, 200, 300, 3], [5]]) {
    test(`Relu forward and gradient, ${shape.join('x')}`, () => {
      assertSameOnBackends('relu', () => {
        const x = seededTensor(shape, 1);
        const weights = seededTensor(shape, 2);
        return [tf.relu(x), tf.grad((t: tf.Tensor) => tf.relu(t).mul(weights).sum())(x)];
      });
    });
  }

  test('Step with alpha, zeros and NaN', () => {
    const [out] = runOn('onednn', () => tf.step(tf.tensor1d([-1, 0, 2, Number.NaN]), 0.5));
    assert.deepEqual(Array.from(out), [0.5, 0.5, 1, Number.NaN]);
    assert.deepEqual(Array.from(runOn('onednn', () => tf.relu(tf.tensor1d([-1, 0, 2, Number.NaN])))[0]), [
      0,
      0,
      2,
      Number.NaN,
    ]);
  });

  test('the native kernels run (no silent fallback to cpu)', () => {
    const x = () => seededTensor([4, 4], 1);
    assert.equal(
      countNativeCalls('relu', () => runOn('onednn', () => tf.relu(x()))),
      1,
    );
    assert.equal(
      countNativeCalls('step', () => runOn('onednn', () => tf.grad((t: tf.Tensor) => tf.relu(t).sum())(x()))),
      1,
    );
  });
});
