import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchNormalization, tf } from '../src/index';
import { batchNormTraining } from '../src/ops/batch_norm_training';
import {
  assertClose,
  countNativeCalls,
  runOn,
  seededTensor,
  skipWithoutAddon,
  weightsAfterTraining,
} from './helpers/onednn';

// Odd shapes: batch 1 and 3, channels not a multiple of 8, a 2-D input, a large mean (cancellation).
const SHAPES: number[][] = [
  [1, 5, 7, 13],
  [3, 4, 6, 5],
  [3, 9, 11, 70],
  [7, 3],
];

/** tfjs-layers' own training-mode computation: moments, batchNorm, and autodiff through both. */
function reference(x: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, weights: tf.Tensor): tf.Tensor[] {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const forward = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(v, axes);
    return tf.batchNorm(v, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
  };
  const { mean, variance } = tf.moments(x, axes);
  const grads = tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(forward(v, g, b), weights)),
  )([x, scale, offset]);
  return [forward(x, scale, offset), mean, variance, ...grads];
}

function fused(x: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, weights: tf.Tensor): tf.Tensor[] {
  const [y, mean, variance] = batchNormTraining(x, scale, offset, 1e-3);
  const grads = tf.grads((v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(batchNormTraining(v, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3)[0], weights)),
  )([x, scale, offset]);
  return [y, mean, variance, ...grads];
}

function inputs(shape: number[]) {
  const channels = shape[shape.length - 1];
  const x = tf.add(tf.mul(seededTensor(shape, 1), 3), 20); // |mean| >> std
  const scale = tf.add(seededTensor([channels], 2), 1) as tf.Tensor1D;
  const offset = seededTensor([channels], 3) as tf.Tensor1D;
  const weights = seededTensor(shape, 4);
  return [x, scale, offset, weights] as const;
}

describe('onednn training-mode batch norm matches tfjs-layers on cpu', { skip: skipWithoutAddon }, () => {
  const labels = ['y', 'mean', 'variance', 'dx', 'dScale', 'dOffset'];
  for (const shape of SHAPES) {
    test(`${shape.join('x')}: forward, batch statistics and gradients through them`, () => {
      const got = runOn('onednn', () => fused(...inputs(shape)));
      const want = runOn('cpu', () => reference(...inputs(shape)));
      got.forEach((g, i) => {
        assertClose(g, want[i], labels[i]);
      });
    });
  }

  test('one native pass each way (no fallback)', () => {
    const shape = SHAPES[1];
    assert.equal(
      countNativeCalls('batchNormTraining', () => runOn('onednn', () => fused(...inputs(shape)))),
      2, // the forward, then again inside tf.grads
    );
    assert.equal(
      countNativeCalls('batchNormTrainingGrad', () => runOn('onednn', () => fused(...inputs(shape)))),
      1,
    );
  });

  test('the BatchNormalization layer trains the same on onednn (fused) and cpu (tfjs-layers)', async () => {
    // One SGD step of conv → BN → ReLU → GAP → dense: weights, moving mean and moving variance agree.
    const body = (input: tf.SymbolicTensor) => {
      let h = tf.layers
        .conv2d({ filters: 11, kernelSize: 3, padding: 'same', useBias: false })
        .apply(input) as tf.SymbolicTensor;
      h = batchNormalization({ momentum: 0.9 }).apply(h) as tf.SymbolicTensor;
      return tf.layers.activation({ activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    };
    const trainOn = (backend: 'onednn' | 'cpu') =>
      weightsAfterTraining(backend, [6, 5, 3], body, (seeded) => tf.add(tf.mul(seeded, 0.5), 1));
    const onednn = await trainOn('onednn');
    const cpu = await trainOn('cpu');
    assert.equal(onednn.length, 7); // kernel, gamma, beta, moving mean, moving variance, dense kernel, bias
    onednn.forEach((w, i) => {
      assertClose(w, cpu[i], `weight ${i}`);
    });
  });

  test('without gamma (scale: false, as in Keras InceptionV3) or beta, it trains on onednn as on cpu', async () => {
    // tfjs-layers' own training path throws without gamma or beta: cpu takes the layer's tfjs-ops path.
    for (const [options, count] of [
      [{ scale: false }, 6],
      [{ center: false }, 6],
      [{ scale: false, center: false }, 5],
    ] as const) {
      const body = (input: tf.SymbolicTensor) => {
        const h = tf.layers
          .conv2d({ filters: 11, kernelSize: 3, padding: 'same', useBias: false })
          .apply(input) as tf.SymbolicTensor;
        return batchNormalization({ momentum: 0.9, ...options }).apply(h) as tf.SymbolicTensor;
      };
      const trainOn = (backend: 'onednn' | 'cpu') =>
        weightsAfterTraining(backend, [6, 5, 3], body, (seeded) => tf.add(tf.mul(seeded, 0.5), 1));
      const onednn = await trainOn('onednn');
      const cpu = await trainOn('cpu');
      assert.equal(onednn.length, count, JSON.stringify(options));
      onednn.forEach((w, i) => {
        assertClose(w, cpu[i], `${JSON.stringify(options)} weight ${i}`);
      });
    }
  });
});
