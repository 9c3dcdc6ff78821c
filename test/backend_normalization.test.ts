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

interface LrnCase {
  shape: [number, number, number, number];
  depthRadius: number;
  bias: number;
  alpha: number;
  beta: number;
}

// GoogLeNet's LRN (radius 2, alpha 1e-4 per element, beta 0.75), beta 0.5 and a general beta (pow),
// a window wider than the channels, radius 0, batch 1 and 3, channels not a multiple of 8.
const LRN_CASES: LrnCase[] = [
  { shape: [1, 5, 7, 13], depthRadius: 2, bias: 1, alpha: 1e-4, beta: 0.75 },
  { shape: [3, 4, 6, 13], depthRadius: 2, bias: 2, alpha: 0.3, beta: 0.75 },
  { shape: [3, 3, 5, 5], depthRadius: 7, bias: 1, alpha: 0.5, beta: 0.5 },
  { shape: [1, 6, 4, 10], depthRadius: 3, bias: 1.5, alpha: 0.2, beta: 0.6 },
  { shape: [3, 2, 3, 7], depthRadius: 0, bias: 1, alpha: 0.4, beta: 0.75 },
  { shape: [2, 17, 19, 64], depthRadius: 5, bias: 1, alpha: 0.1, beta: 0.75 },
];

describe('onednn LRN matches cpu', { skip: skipWithoutAddon }, () => {
  for (const c of LRN_CASES) {
    test(`${c.shape.join('x')} radius ${c.depthRadius} bias ${c.bias} alpha ${c.alpha} beta ${c.beta}`, () => {
      const lrn = (x: tf.Tensor) =>
        tf.localResponseNormalization(x as tf.Tensor4D, c.depthRadius, c.bias, c.alpha, c.beta);
      const compute = () => {
        const x = tf.mul(seededTensor(c.shape, 1), 3);
        const weights = seededTensor(c.shape, 2);
        return [lrn(x), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(lrn(v), weights)))(x)];
      };
      assertSameOnBackends('lrn', compute);
      assert.equal(
        countNativeCalls('lrnGrad', () => runOn('onednn', compute)),
        1,
      );
      assert.ok(countNativeCalls('lrn', () => runOn('onednn', compute)) >= 1);
    });
  }
});

describe('onednn FusedBatchNorm matches cpu', { skip: skipWithoutAddon }, () => {
  const shapes: [number, number, number, number][] = [
    [1, 5, 7, 13],
    [3, 4, 6, 5],
    [3, 21, 23, 70],
  ];
  for (const shape of shapes) {
    const channels = shape[3];
    test(`${shape.join('x')} with per-channel statistics, offset and scale, forward and gradient`, () => {
      const compute = () => {
        const x = tf.add(tf.mul(seededTensor(shape, 3), 4), 1.5);
        const mean = seededTensor([channels], 4);
        const variance = tf.add(tf.abs(seededTensor([channels], 5)), 0.1);
        const offset = seededTensor([channels], 6);
        const scale = seededTensor([channels], 7);
        const weights = seededTensor(shape, 8);
        const norm = (v: tf.Tensor, m: tf.Tensor, s: tf.Tensor) =>
          tf.batchNorm(
            v,
            m as tf.Tensor1D,
            variance as tf.Tensor1D,
            offset as tf.Tensor1D,
            s as tf.Tensor1D,
            1e-3,
          );
        const grads = tf.grads((v: tf.Tensor, m: tf.Tensor, s: tf.Tensor) =>
          tf.sum(tf.mul(norm(v, m, s), weights)),
        )([x, mean, scale]);
        return [norm(x, mean, scale), ...grads];
      };
      assertSameOnBackends('batchNorm', compute);
      assert.ok(countNativeCalls('batchNorm', () => runOn('onednn', compute)) > 0);
    });
  }

  test('batch moments then normalisation (what tf.layers.batchNormalization does in training)', () => {
    const shape = [3, 6, 5, 11];
    const compute = () => {
      const x = seededTensor(shape, 9);
      const weights = seededTensor(shape, 10);
      const normalize = (v: tf.Tensor) => {
        const { mean, variance } = tf.moments(v, [0, 1, 2]);
        // (tfjs's batchNorm gradient needs a scale tensor: layers always pass gamma and beta)
        return tf.batchNorm(v, mean, variance, tf.zeros([shape[3]]), tf.ones([shape[3]]), 1e-3);
      };
      return [normalize(x), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(normalize(v), weights)))(x)];
    };
    assertSameOnBackends('moments + batchNorm', compute);
  });

  test('scalar parameters, no offset or scale', () => {
    assertSameOnBackends('batchNorm scalars', () =>
      tf.batchNorm(
        seededTensor([3, 4, 5, 6], 11),
        tf.scalar(0.2),
        tf.scalar(1.7),
        undefined,
        undefined,
        1e-5,
      ),
    );
  });

  test('parameters of another length fall back to the cpu kernel', () => {
    const compute = () =>
      tf.batchNorm(
        seededTensor([2, 3, 4, 6], 12),
        seededTensor([4, 6], 13),
        tf.add(tf.abs(seededTensor([4, 6], 14)), 1),
      );
    assertSameOnBackends('batchNorm [4, 6] statistics', compute);
    assert.equal(
      countNativeCalls('batchNorm', () => runOn('onednn', compute)),
      0,
    );
  });
});
