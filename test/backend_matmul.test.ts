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

interface Case {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const CASES: Case[] = [
  { a: [5, 9], b: [9, 11], transposeA: false, transposeB: false },
  { a: [3, 5, 7], b: [3, 7, 4], transposeA: false, transposeB: false },
  { a: [3, 7, 5], b: [3, 7, 4], transposeA: true, transposeB: false },
  { a: [3, 5, 7], b: [3, 4, 7], transposeA: false, transposeB: true },
  { a: [2, 3, 7, 5], b: [2, 3, 6, 7], transposeA: true, transposeB: true },
  { a: [4, 5, 7], b: [7, 3], transposeA: false, transposeB: false },
  { a: [1, 5, 7], b: [3, 7, 2], transposeA: false, transposeB: false },
];

const name = (c: Case) =>
  `${c.a.join('x')}${c.transposeA ? 'ᵀ' : ''} · ${c.b.join('x')}${c.transposeB ? 'ᵀ' : ''}`;

describe('onednn BatchMatMul and _FusedMatMul match cpu', { skip: skipWithoutAddon }, () => {
  for (const c of CASES) {
    test(`BatchMatMul forward (and gradients without broadcasting) ${name(c)}`, () => {
      assertSameOnBackends('matmul', () => {
        const a = seededTensor(c.a, 1);
        const b = seededTensor(c.b, 2);
        const product = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, c.transposeA, c.transposeB);
        const y = product(a, b);
        // tfjs defines no BatchMatMul gradient across broadcast batch dimensions: forward only there.
        if (c.a.length !== c.b.length || c.a[0] !== c.b[0]) return y;
        const weights = seededTensor(y.shape, 3);
        return [y, ...tf.grads((x: tf.Tensor, w: tf.Tensor) => product(x, w).mul(weights).sum())([a, b])];
      });
    });
  }

  for (const activation of ['linear', 'relu'] as const) {
    test(`_FusedMatMul with bias and ${activation}, forward and gradients (a dense layer)`, () => {
      assertSameOnBackends('fused matmul', () => {
        const a = seededTensor([3, 17], 1) as tf.Tensor2D;
        const b = seededTensor([17, 10], 2) as tf.Tensor2D;
        const bias = seededTensor([10], 3);
        const dense = (x: tf.Tensor, w: tf.Tensor, v: tf.Tensor) =>
          tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: v, activation });
        const weights = seededTensor([3, 10], 4);
        return [dense(a, b, bias), ...tf.grads((x, w, v) => dense(x, w, v).mul(weights).sum())([a, b, bias])];
      });
    });
  }

  test('the native kernel runs (no silent fallback to cpu)', () => {
    const calls = countNativeCalls('matmul', () =>
      runOn('onednn', () => tf.fused.matMul({ a: tf.ones([2, 3]), b: tf.ones([3, 4]), bias: tf.ones([4]) })),
    );
    assert.equal(calls, 1);
  });
});
