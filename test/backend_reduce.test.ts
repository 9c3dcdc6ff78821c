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

// Bias gradients (NHWC over N,H,W), global average pooling (over H,W), last-axis and whole-tensor reductions.
const CASES: { shape: number[]; axis: number | number[] | null }[] = [
  { shape: [3, 9, 7, 13], axis: [0, 1, 2] },
  { shape: [1, 40, 30, 5], axis: [0, 1, 2] },
  { shape: [3, 5, 7, 13], axis: [1, 2] },
  { shape: [8, 10], axis: -1 },
  { shape: [8, 10], axis: 0 },
  { shape: [3, 5, 7], axis: null },
];

describe('onednn Sum and Mean match cpu', { skip: skipWithoutAddon }, () => {
  for (const { shape, axis } of CASES) {
    for (const keepDims of [false, true]) {
      test(`Sum and Mean of ${shape.join('x')} over ${JSON.stringify(axis)}, keepDims ${keepDims}`, () => {
        assertSameOnBackends('reduce', () => {
          const x = seededTensor(shape, 1);
          const weights = seededTensor(tf.mean(x, axis ?? undefined, keepDims).shape, 2);
          const loss = (t: tf.Tensor) =>
            tf
              .mean(t, axis ?? undefined, keepDims)
              .mul(weights)
              .sum();
          return [
            tf.sum(x, axis ?? undefined, keepDims),
            tf.mean(x, axis ?? undefined, keepDims),
            tf.grad(loss)(x),
          ];
        });
      });
    }
  }

  test('non-contiguous axes and int32 tensors fall back to the cpu kernel', () => {
    assertSameOnBackends('fallback', () => [
      tf.sum(seededTensor([3, 4, 5], 1), [0, 2]),
      tf.sum(tf.ones([4, 3], 'int32'), 0).toFloat(),
    ]);
  });

  test('the native kernel runs (no silent fallback to cpu)', () => {
    assert.equal(
      countNativeCalls('reduceSum', () => runOn('onednn', () => tf.sum(tf.ones([4, 5, 6]), [0, 1]))),
      1,
    );
  });
});
