import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tf } from '../src/index';
import {
  assertClose,
  assertSameOnBackends,
  countNativeCalls,
  runOn,
  seededTensor,
  skipWithoutAddon,
} from './helpers/onednn';

interface Case {
  shape: [number, number, number, number];
  size: number;
  stride: number;
  pad: 'same' | 'valid';
}

// GoogLeNet's pools (3x3 stride 1 and 2, same) plus odd sizes, batch 1 and 3, channels not a multiple of 8.
const CASES: Case[] = [
  { shape: [1, 9, 11, 5], size: 3, stride: 1, pad: 'same' },
  { shape: [3, 10, 7, 13], size: 3, stride: 2, pad: 'same' },
  { shape: [3, 9, 9, 6], size: 2, stride: 2, pad: 'valid' },
  { shape: [1, 13, 8, 3], size: 3, stride: 2, pad: 'valid' },
  { shape: [3, 7, 12, 4], size: 5, stride: 1, pad: 'same' },
];

const name = (c: Case) => `${c.shape.join('x')} ${c.size}x${c.size} stride ${c.stride} ${c.pad}`;
type Pool = (x: tf.Tensor4D, c: Case) => tf.Tensor;
const maxPool: Pool = (x, c) => tf.maxPool(x, c.size, c.stride, c.pad);
const avgPool: Pool = (x, c) => tf.avgPool(x, c.size, c.stride, c.pad);

/** The pool, and the gradient of a weighted sum of it (a non-uniform upstream gradient). */
function poolAndGradient(pool: Pool, c: Case, makeInput = () => seededTensor(c.shape, 1)): tf.Tensor[] {
  const x = makeInput() as tf.Tensor4D;
  const y = pool(x, c);
  const weights = seededTensor(y.shape, 2);
  return [
    y,
    tf.grad((input: tf.Tensor) =>
      pool(input as tf.Tensor4D, c)
        .mul(weights)
        .sum(),
    )(x),
  ];
}

/** Average pooling from depthwise convolutions, whose gradient tfjs's cpu backend computes exactly. */
const avgPoolByConvolution: Pool = (x, c) => {
  const ones = tf.ones([c.size, c.size, x.shape[3], 1]) as tf.Tensor4D;
  const sums = tf.depthwiseConv2d(x, ones, c.stride, c.pad);
  const counts = tf.depthwiseConv2d(tf.onesLike(x), ones, c.stride, c.pad);
  return sums.div(counts);
};

describe('onednn pooling matches cpu', { skip: skipWithoutAddon }, () => {
  for (const c of CASES) {
    test(`MaxPool and MaxPoolGrad ${name(c)}`, () => {
      assertSameOnBackends('max pool', () => poolAndGradient(maxPool, c));
    });

    test(`AvgPool and AvgPoolGrad ${name(c)}`, () => {
      // tfjs's cpu AvgPoolGrad divides by the full window even where `same` padding cut it short (its
      // forward does not); so the reference gradient is that of the same average built from convolutions.
      const [y, dx] = runOn('onednn', () => poolAndGradient(avgPool, c));
      const [yRef] = runOn('cpu', () => poolAndGradient(avgPool, c));
      const [yConv, dxRef] = runOn('cpu', () => poolAndGradient(avgPoolByConvolution, c));
      assertClose(y, yRef, 'avg pool');
      assertClose(yConv, yRef, 'avg pool by convolution');
      assertClose(dx, dxRef, 'avg pool gradient');
      if (c.pad === 'valid') assertClose(dx, runOn('cpu', () => poolAndGradient(avgPool, c))[1], 'vs cpu');
    });
  }

  test('MaxPoolGrad with ties (ReLU zeros, repeated values): each window gradient goes to one position', () => {
    for (const c of [CASES[0], CASES[1], { shape: [2, 8, 8, 19], size: 3, stride: 1, pad: 'same' } as Case]) {
      // Half the values clipped to 0 and the rest rounded to a few levels: most windows tie.
      const ties = () => tf.relu(tf.round(tf.mul(seededTensor(c.shape, 3), 2)));
      const compute = () => poolAndGradient(maxPool, c, ties);
      assertSameOnBackends(`max pool ties ${name(c)}`, compute);
    }
  });

  test('the native kernels run (no silent fallback to cpu)', () => {
    const c = CASES[1];
    assert.equal(
      countNativeCalls('maxPoolGrad', () => runOn('onednn', () => poolAndGradient(maxPool, c))),
      1,
    );
    assert.equal(
      countNativeCalls('avgPool', () => runOn('onednn', () => poolAndGradient(avgPool, c))),
      2, // the forward output, then again inside tf.grad
    );
  });
});
