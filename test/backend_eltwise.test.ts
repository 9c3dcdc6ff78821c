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

type Binary = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const BINARY: [string, Binary][] = [
  ['add', tf.add],
  ['sub', tf.sub],
  ['mul', tf.mul],
  // Divisors kept away from 0 so that rounding near a pole does not dominate the comparison.
  ['div', (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5))],
];

// Same shape, bias add, scalar, mid-broadcast (tfjs's Mean gradient), both sides broadcast, the smaller
// operand first, batch 1 and 3, channels not a multiple of 8, and one above the multi-thread threshold.
const SHAPE_PAIRS: [number[], number[]][] = [
  [
    [3, 5, 7, 13],
    [3, 5, 7, 13],
  ],
  [[1, 4, 6, 13], [13]],
  [[3, 4, 6, 13], []],
  [
    [3, 1, 1, 5],
    [3, 3, 4, 5],
  ],
  [
    [4, 1, 3],
    [1, 5, 1],
  ],
  [[13], [3, 5, 13]],
  [
    [3, 33, 35, 11],
    [1, 1, 1, 11],
  ],
  [
    [3, 33, 35, 11],
    [3, 33, 35, 11],
  ],
];

describe('onednn element-wise kernels match cpu', { skip: skipWithoutAddon }, () => {
  for (const [name, op] of BINARY) {
    for (const [aShape, bShape] of SHAPE_PAIRS) {
      test(`${name} ${JSON.stringify(aShape)} ${JSON.stringify(bShape)}, forward and gradient`, () => {
        const compute = () => {
          const a = seededTensor(aShape, 1);
          const b = seededTensor(bShape, 2);
          const out = op(a, b);
          const weights = seededTensor(out.shape, 3);
          const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(op(x, y), weights)))([a, b]);
          return [out, ...grads];
        };
        assertSameOnBackends(name, compute);
        const calls = countNativeCalls('binary', () => runOn('onednn', compute));
        assert.ok(calls > 0, 'the native kernel ran');
      });
    }
  }

  test('int32 operands fall back to the cpu kernel', () => {
    const compute = () => tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([10], [1], 'int32'));
    assert.equal(
      countNativeCalls('binary', () => assert.deepEqual(runOn('onednn', compute), runOn('cpu', compute))),
      0,
    );
  });

  for (const shape of [
    [1, 5, 7, 13],
    [3, 9, 11, 6],
    [3, 33, 35, 11],
  ]) {
    test(`relu ${JSON.stringify(shape)}, forward and gradient (Step)`, () => {
      const compute = () => {
        // Exact zeros too: tfjs's gradient there is 0 (Step(0) = alpha = 0).
        const x = tf.mul(tf.round(tf.mul(seededTensor(shape, 4), 4)), 0.25);
        const weights = seededTensor(shape, 5);
        return [tf.relu(x), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), weights)))(x)];
      };
      assertSameOnBackends('relu', compute);
      // relu twice (the forward value and inside tf.grad), step once (its gradient)
      assert.equal(
        countNativeCalls('unary', () => runOn('onednn', compute)),
        3,
      );
    });
  }

  test('step with alpha and NaN', () => {
    const compute = () => tf.step(tf.tensor([-2, -0, 0, 0.5, Number.NaN, 3]), 0.3);
    const [onednn] = runOn('onednn', compute);
    const [cpu] = runOn('cpu', compute);
    assert.deepEqual([...onednn].map(String), [...cpu].map(String));
  });

  const TILES: [number[], number[], boolean][] = [
    [[1, 1, 1, 13], [3, 4, 5, 1], true], // tfjs's batch-norm gradient
    [[2, 1, 3], [1, 4, 1], true],
    [[1, 1, 1, 11], [3, 33, 35, 1], true],
    [[2, 3], [2, 2], false], // a true repetition: the cpu kernel
  ];
  for (const [shape, reps, native] of TILES) {
    test(`tile ${JSON.stringify(shape)} by ${JSON.stringify(reps)}, forward and gradient`, () => {
      const compute = () => {
        const x = seededTensor(shape, 9);
        const weights = seededTensor(
          shape.map((n, d) => n * reps[d]),
          10,
        );
        return [tf.tile(x, reps), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.tile(v, reps), weights)))(x)];
      };
      assertSameOnBackends('tile', compute);
      const calls = countNativeCalls('binary', () =>
        runOn('onednn', () => tf.tile(seededTensor(shape, 9), reps)),
      );
      assert.equal(calls, native ? 1 : 0);
    });
  }
});
