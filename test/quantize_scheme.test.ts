import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  activationQuant,
  foldBatchNorm,
  quantizeBias,
  quantizeFilter,
  roundHalfEven,
} from '../src/quantize/scheme';

test('activation parameters: u8 max/255 after ReLU, s8 max|x|/127 otherwise, scale 1 for a dead tensor', () => {
  assert.deepEqual(activationQuant([0, 5.1]), { type: 'uint8', scale: 5.1 / 255 });
  assert.deepEqual(activationQuant([-2, 1.27]), { type: 'int8', scale: 2 / 127 });
  assert.deepEqual(activationQuant([-0.5, 3.81]), { type: 'int8', scale: 3.81 / 127 });
  assert.deepEqual(activationQuant([0, 0]), { type: 'uint8', scale: 1 });
  assert.throws(() => activationQuant([1, 0]), /min <= max/);
  assert.throws(() => activationQuant([Number.NaN, 1]), /finite/);
});

test('roundHalfEven rounds ties to even, as QuantizeLinear does', () => {
  assert.deepEqual(
    [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven),
    [0, 2, 2, -0, -2, -2, 2, -3],
  );
});

test('per-channel filter quantization: each channel reaches ±127 at its max, values within half a step', () => {
  const outC = 3;
  const filter = Float32Array.from(
    { length: 2 * 2 * 4 * outC },
    (_, i) => Math.sin(i * 1.7) * (1 + (i % outC)),
  );
  filter[outC * 5 + 2] = 0; // channel 2 keeps non-zero values elsewhere
  const { values, scales } = quantizeFilter(filter, outC);
  for (let c = 0; c < outC; c++) {
    let amax = 0;
    let qmax = 0;
    for (let i = c; i < filter.length; i += outC) {
      amax = Math.max(amax, Math.abs(filter[i]));
      qmax = Math.max(qmax, Math.abs(values[i]));
      assert.ok(Math.abs(values[i] * scales[c] - filter[i]) <= scales[c] / 2 + 1e-7);
    }
    assert.ok(Math.abs(scales[c] - amax / 127) < 1e-7);
    assert.equal(qmax, 127);
  }
  const dead = quantizeFilter(new Float32Array(8), 2);
  assert.deepEqual([...dead.scales], [1, 1]);
  assert.ok(dead.values.every((v) => v === 0));
});

test('quantizeBias divides by x_scale * w_scale and clamps to int32', () => {
  const q = quantizeBias(Float32Array.from([0.3, -1, 1e30]), 0.01, Float32Array.from([0.1, 0.5, 1e-6]));
  assert.deepEqual([...q], [300, -200, 2147483647]);
});

test('foldBatchNorm: conv with the folded filter and bias equals conv then inference BN', () => {
  const shape: [number, number, number, number] = [3, 3, 2, 5];
  const filterT = tf.randomNormal(shape, 0, 1, 'float32', 7);
  const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 8);
  const bn = {
    gamma: Float32Array.from([1, 0.5, -2, 3, 0.1]),
    beta: Float32Array.from([0.1, -0.2, 0.3, 0, 1]),
    mean: Float32Array.from([0.5, -1, 2, 0, 0.3]),
    variance: Float32Array.from([1, 4, 0.25, 2, 0.5]),
    epsilon: 1e-3,
  };
  const bias = Float32Array.from([0.2, 0, -0.4, 1, 2]);
  const folded = foldBatchNorm({ filter: filterT.dataSync() as Float32Array, shape, bias }, bn);
  const expected = tf.tidy(() =>
    tf.batchNorm(
      tf.add(tf.conv2d(x as tf.Tensor4D, filterT as tf.Tensor4D, 1, 'same'), bias),
      bn.mean,
      bn.variance,
      bn.beta,
      bn.gamma,
      bn.epsilon,
    ),
  );
  const got = tf.tidy(() =>
    tf.add(tf.conv2d(x as tf.Tensor4D, tf.tensor4d(folded.filter, shape), 1, 'same'), folded.bias!),
  );
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, got))).dataSync()[0]);
  assert.ok(diff < 1e-4, `max diff ${diff}`);
  tf.dispose([filterT, x, expected, got]);
});
