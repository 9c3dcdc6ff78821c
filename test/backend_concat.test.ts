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

// Like an inception module's branch outputs (odd sizes, batch 3), concatenated along each axis in turn.
const BASE = [3, 5, 7, 4];
const SIZES = [3, 13, 1];
const partShapes = (axis: number) =>
  SIZES.map((size) => BASE.map((d, i) => (i === (axis + BASE.length) % BASE.length ? size : d)));

describe('onednn Concat and SplitV match cpu', { skip: skipWithoutAddon }, () => {
  for (const axis of [3, 0, 1, 2, -1]) {
    test(`Concat forward and gradient (SplitV) along axis ${axis}`, () => {
      assertSameOnBackends('concat', () => {
        const parts = partShapes(axis).map((shape, i) => seededTensor(shape, i));
        const y = tf.concat(parts, axis);
        const weights = seededTensor(y.shape, 9);
        return [y, ...tf.grads((...xs: tf.Tensor[]) => tf.concat(xs, axis).mul(weights).sum())(parts)];
      });
    });
  }

  test('SplitV by sizes and by count, 2-D and 4-D', () => {
    assertSameOnBackends('split', () => [
      ...tf.split(seededTensor([3, 10, 4, 17], 1), [5, 1, 11], 3),
      ...tf.split(seededTensor([6, 9], 2), 3, 0),
      ...tf.split(seededTensor([6, 9], 3), [2, -1], 1),
    ]);
  });

  test('the native kernels run (no silent fallback to cpu)', () => {
    assert.equal(
      countNativeCalls('split', () => runOn('onednn', () => tf.split(tf.ones([2, 3, 4]), [1, 3], 2))),
      1,
    );
    assert.equal(
      countNativeCalls('concat', () =>
        runOn('onednn', () => tf.concat([tf.ones([2, 3]), tf.ones([2, 1])], 1)),
      ),
      1,
    );
  });
});
