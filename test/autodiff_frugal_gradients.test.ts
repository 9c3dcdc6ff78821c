import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { installFrugalGradients, tf } from '../src/index';
import { seededTensor } from './helpers/onednn';

/**
 * A graph with what a backward pass must get right: a tensor used by several consumers (gradients summed),
 * gradients passed through unchanged (add, identity-like reshape), a concat and its split, a customGrad op,
 * an input that needs no gradient, and a ReLU.
 */
function graph(a: tf.Tensor, b: tf.Tensor, constant: tf.Tensor): tf.Tensor {
  const h = tf.relu(tf.matMul(a, b));
  const twice = tf.add(h, h); // one tensor, two inputs of one node
  const branches = tf.concat([tf.mul(twice, constant), tf.sigmoid(h), tf.reshape(h, h.shape)], 1);
  const squareGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: tf.square(x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.mul(saved[0], 2)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.sum(tf.add(squareGrad(branches) as tf.Tensor, tf.tile(h, [1, 3])));
}

function gradientsWith(frugal: boolean, dy?: tf.Tensor): { values: Float32Array[]; leaked: number } {
  installFrugalGradients(frugal);
  try {
    const a = seededTensor([5, 4], 1);
    const b = seededTensor([4, 3], 2);
    const constant = seededTensor([5, 3], 3);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.engine().gradients(() => graph(a, b, constant), [a, b], dy);
    const values = [value, ...grads].map((t) => t.dataSync() as Float32Array);
    tf.dispose([value, ...grads]);
    const leaked = tf.memory().numTensors - before;
    tf.dispose([a, b, constant]);
    return { values, leaked };
  } finally {
    installFrugalGradients(true);
  }
}

describe('the frugal backward pass (autodiff/frugal_gradients.ts)', () => {
  test('gives exactly tfjs’s gradients and leaves no tensor behind', () => {
    const frugal = gradientsWith(true);
    const tfjs = gradientsWith(false);
    assert.equal(frugal.values.length, 3);
    frugal.values.forEach((v, i) => {
      assert.deepEqual([...v], [...tfjs.values[i]], `output ${i}`);
    });
    assert.equal(frugal.leaked, 0);
    assert.equal(tfjs.leaked, 0);
  });

  test('a dy given by the caller is used and left to the caller', () => {
    const dy = tf.scalar(3);
    const frugal = gradientsWith(true, dy);
    const tfjs = gradientsWith(false, dy);
    frugal.values.forEach((v, i) => {
      assert.deepEqual([...v], [...tfjs.values[i]]);
    });
    assert.equal(dy.isDisposed, false);
    dy.dispose();
  });

  test('frees intermediate gradients during the backward pass: a deep chain peaks lower', () => {
    // 30 layers of matmul + ReLU: tfjs keeps every layer's input and ReLU gradients (and the ReLU gradient's
    // step) until the end; frugal keeps the weight gradients, which are the result. Counted in data buffers.
    const peakBuffers = (frugal: boolean) => {
      installFrugalGradients(frugal);
      try {
        const weights = Array.from({ length: 30 }, (_, i) =>
          tf.variable(tf.tidy(() => tf.mul(seededTensor([256, 256], i), 0.1))),
        );
        const x = seededTensor([256, 256], 99);
        const start = tf.memory().numDataBuffers;
        let peak = 0;
        const engine = tf.engine() as unknown as { runKernel: (...args: unknown[]) => unknown };
        const run = engine.runKernel;
        engine.runKernel = function (...args: unknown[]) {
          peak = Math.max(peak, tf.memory().numDataBuffers - start);
          return run.apply(this, args);
        };
        try {
          const { value, grads } = tf.variableGrads(
            () => tf.sum(weights.reduce((h, w) => tf.relu(tf.matMul(h, w)), x)) as tf.Scalar,
            weights,
          );
          tf.dispose([value, ...Object.values(grads)]);
        } finally {
          engine.runKernel = run;
        }
        tf.dispose([...weights, x]);
        return peak;
      } finally {
        installFrugalGradients(true);
      }
    };
    const tfjs = peakBuffers(false);
    const frugal = peakBuffers(true);
    assert.ok(frugal < 0.8 * tfjs, `frugal peak ${frugal} buffers vs tfjs ${tfjs}`);
  });

  test('higher-order gradients still work (left to tfjs)', () => {
    const x = tf.scalar(1.5);
    const d2 = tf.grad(tf.grad((v: tf.Tensor) => tf.pow(v, 3)))(x); // 6x
    assert.ok(Math.abs(d2.dataSync()[0] - 9) < 1e-5);
    tf.dispose([x, d2]);
  });

  test('errors as tfjs words them', () => {
    const x = tf.scalar(2);
    assert.throws(() => tf.grad(() => tf.scalar(1))(x), /Cannot compute gradient of y=f\(x\)/);
    x.dispose();
  });
});
