import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { conv2d, tf } from '../src/index';
import { conv2dBiasRelu } from '../src/ops/conv2d_bias_relu';
import {
  assertClose,
  countNativeCalls,
  runOn,
  seededTensor,
  skipWithoutAddon,
  weightsAfterTraining,
} from './helpers/onednn';

interface Case {
  x: number[];
  kernel: number;
  filters: number;
  stride: number;
  pad: 'same' | 'valid';
  bias: boolean;
}

// Odd shapes: batch 1 and 3, non-square inputs, channels not a multiple of 8, kernels 1/3/5/7, stride 1 and 2,
// and 1x1 maps.
const CASES: Case[] = [
  { x: [1, 7, 9, 3], kernel: 7, filters: 5, stride: 2, pad: 'same', bias: true },
  { x: [3, 6, 5, 13], kernel: 1, filters: 11, stride: 1, pad: 'valid', bias: true },
  { x: [3, 9, 8, 6], kernel: 3, filters: 17, stride: 1, pad: 'same', bias: false },
  { x: [1, 11, 10, 5], kernel: 5, filters: 9, stride: 2, pad: 'valid', bias: true },
  { x: [3, 4, 4, 24], kernel: 3, filters: 16, stride: 2, pad: 'same', bias: true },
  // A 1x1 map: the single-tap gemm path, its bias gradient a plain reduction.
  { x: [3, 1, 1, 13], kernel: 3, filters: 11, stride: 1, pad: 'same', bias: true },
  { x: [130, 1, 1, 300], kernel: 5, filters: 260, stride: 1, pad: 'same', bias: true },
];

function inputs(c: Case) {
  const x = seededTensor(c.x, 1) as tf.Tensor4D;
  const filter = tf.mul(seededTensor([c.kernel, c.kernel, c.x[3], c.filters], 2), 0.5) as tf.Tensor4D;
  const bias = c.bias ? (tf.mul(seededTensor([c.filters], 3), 0.3) as tf.Tensor1D) : null;
  return { x, filter, bias };
}

/** tfjs's own path while training: conv2d, bias add, ReLU, and autodiff through them. */
function reference(c: Case): tf.Tensor[] {
  const { x, filter, bias } = inputs(c);
  const forward = (v: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) => {
    const z = tf.conv2d(v as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad);
    return tf.relu(b ? tf.add(z, b) : z);
  };
  return withGradients(forward, x, filter, bias);
}

function fused(c: Case): tf.Tensor[] {
  const { x, filter, bias } = inputs(c);
  const forward = (v: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) =>
    conv2dBiasRelu(
      v as tf.Tensor4D,
      w as tf.Tensor4D,
      (b ?? null) as tf.Tensor1D | null,
      [c.stride, c.stride],
      c.pad,
    );
  return withGradients(forward, x, filter, bias);
}

/** [y, dx, dFilter, dBias?] of sum(forward(...) * weights): weights make every output's gradient distinct. */
function withGradients(
  forward: (v: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  filter: tf.Tensor,
  bias: tf.Tensor | null,
): tf.Tensor[] {
  const y = forward(x, filter, bias ?? undefined);
  const weights = seededTensor(y.shape, 4);
  const args = bias ? [x, filter, bias] : [x, filter];
  const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(forward(a[0], a[1], a[2]), weights)))(args);
  return [y, ...grads];
}

const describeCase = (c: Case) =>
  `${c.x.join('x')} ${c.kernel}x${c.kernel}/${c.stride} ${c.pad} -> ${c.filters}${c.bias ? '' : ' no bias'}`;

describe('onednn fused conv + bias + ReLU for training matches tfjs on cpu', {
  skip: skipWithoutAddon,
}, () => {
  const labels = ['y', 'dx', 'dFilter', 'dBias'];
  for (const c of CASES) {
    test(`${describeCase(c)}: forward and gradients`, () => {
      const got = runOn('onednn', () => fused(c));
      const want = runOn('cpu', () => reference(c));
      assert.equal(got.length, want.length);
      got.forEach((g, i) => {
        assertClose(g, want[i], labels[i]);
      });
    });
  }

  test('the ReLU mask passes no gradient where the output is 0', () => {
    // x = 0 makes every pre-activation equal to the bias: negative biases give y = 0 and no gradient.
    const c: Case = { x: [1, 3, 3, 2], kernel: 1, filters: 2, stride: 1, pad: 'valid', bias: true };
    const bias = tf.tensor1d([-1, 0.5]);
    const run = (x: tf.Tensor4D) =>
      runOn('onednn', () =>
        tf.grads((b: tf.Tensor) =>
          tf.sum(conv2dBiasRelu(x, tf.ones([1, 1, 2, 2]), b as tf.Tensor1D, [1, 1], c.pad)),
        )([bias]),
      )[0];
    assert.deepEqual([...run(tf.zeros(c.x as [number, number, number, number]))], [0, 9]);
  });

  test('one forward primitive, one mask + filter/bias-gradient pass, one input-gradient pass', () => {
    const c = CASES[1];
    const count = (name: string) => countNativeCalls(name, () => runOn('onednn', () => fused(c)));
    assert.equal(count('conv2d'), 2); // the forward, then again inside tf.grads
    assert.equal(count('conv2dBackpropFilter'), 1);
    assert.equal(count('conv2dBackpropInput'), 1);
    assert.equal(count('unary'), 0); // no separate ReLU or Step
  });

  test('the Conv2D layer trains the same on onednn (fused) and cpu (tfjs-layers)', async () => {
    // Two SGD steps of conv(ReLU) → conv(ReLU, no bias, stride 2) → GAP → dense.
    const body = (input: tf.SymbolicTensor) => {
      const h = conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input);
      return conv2d({ filters: 5, kernelSize: 3, strides: 2, activation: 'relu', useBias: false }).apply(
        h,
      ) as tf.SymbolicTensor;
    };
    const trainOn = (backend: 'onednn' | 'cpu') =>
      weightsAfterTraining(backend, [9, 7, 3], body, (seeded) => tf.mul(seeded, 0.5));
    const onednn = await trainOn('onednn');
    const cpu = await trainOn('cpu');
    assert.equal(onednn.length, 5); // kernel, bias, kernel, dense kernel, dense bias
    onednn.forEach((w, i) => {
      assertClose(w, cpu[i], `weight ${i}`);
    });
  });

  test('a saved Conv2D loads as this class and serialises as a plain tfjs Conv2D', () => {
    const layer = conv2d({ filters: 2, kernelSize: 1, activation: 'relu' });
    const config = layer.getConfig();
    const cls = tf.serialization.SerializationMap.getMap().classNameMap.Conv2D[0];
    assert.equal(layer.getClassName(), 'Conv2D');
    assert.equal(cls, layer.constructor);
    assert.equal(config.activation, 'relu');
  });
});
