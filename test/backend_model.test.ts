import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { googlenet, tf } from '../src/index';
import { assertClose, assertCloseL2, seededTensor, skipWithoutAddon } from './helpers/onednn';

/** The default GoogLeNet at 64x64 (quick), without dropout so that both backends compute the same thing. */
const INPUT: [number, number, number] = [64, 64, 3];
const BATCH = 2;

/**
 * Whole-network gradients are compared in L2 with a looser tolerance: the forward passes agree to ~1e-6,
 * and where a max pool's two largest inputs are that close, the backends route that position's gradient
 * to different inputs (an argmax flip). Flips preserve per-channel sums (bias gradients stay at ~1e-6) but
 * move kernel gradients by up to ~1e-2 of their scale. Checked: with the forward kernels forced onto the
 * cpu implementations, every native backward kernel in this model agrees to 2e-6.
 */
const GRADIENT_TOLERANCE = 2e-2;

/** Glorot-uniform-scaled weights from fixed seeds, so that a failure reproduces. */
function deterministicWeights(model: tf.LayersModel): tf.Tensor[] {
  const weights = model.getWeights().map((w, i) => {
    const fanIn = w.shape.length > 1 ? w.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
    const fanOut = w.shape.length > 1 ? w.shape.slice(0, -2).reduce((a, b) => a * b, 1) * w.shape.at(-1)! : 1;
    const scale = w.shape.length > 1 ? Math.sqrt(6 / (fanIn + fanOut)) : 0.01;
    return tf.tidy(() => seededTensor(w.shape, 100 + i).mul(scale));
  });
  model.dispose();
  return weights;
}

/** Predictions and loss gradients (in getWeights order) from one forward/backward pass. */
function forwardBackward(backend: 'cpu' | 'onednn', initial: tf.Tensor[]) {
  tf.setBackend(backend);
  const model = googlenet({ inputShape: INPUT, dropout: 0 });
  model.setWeights(initial);
  const x = seededTensor([BATCH, ...INPUT], 1);
  const y = tf.oneHot(tf.tensor1d([3, 7], 'int32'), 10);
  let output: tf.Tensor | undefined;
  const { grads, value } = tf.variableGrads(() => {
    output = tf.keep(model.apply(x, { training: true }) as tf.Tensor); // no dropout: the prediction
    return tf.losses.softmaxCrossEntropy(y, output);
  });
  const predictions = output!.dataSync() as Float32Array;
  const gradients = model.weights.map((w) => grads[w.name].dataSync() as Float32Array);
  tf.dispose([x, y, output!, value, ...Object.values(grads)]);
  model.dispose();
  return { predictions, gradients };
}

let adamRun = 0;
/** The weights after one Adam step from `initial` with the given gradients. */
function adamStep(
  backend: 'cpu' | 'onednn',
  initial: tf.Tensor[],
  gradients: Float32Array[],
): Float32Array[] {
  tf.setBackend(backend);
  adamRun++;
  const variables = initial.map((w, i) => tf.variable(w, true, `adam_check_${adamRun}_${i}`));
  const optimizer = tf.train.adam(1e-3);
  const named = variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(gradients[i], v.shape) }));
  optimizer.applyGradients(named);
  const weights = variables.map((v) => v.dataSync() as Float32Array);
  tf.dispose([...variables, ...named.map((n) => n.tensor)]);
  optimizer.dispose();
  return weights;
}

describe('GoogLeNet on onednn matches cpu', { skip: skipWithoutAddon }, () => {
  test('same predictions, gradients, and weights after one Adam step (64x64, identical weights)', () => {
    tf.setBackend('cpu');
    const initial = deterministicWeights(googlenet({ inputShape: INPUT, dropout: 0 }));
    const cpu = forwardBackward('cpu', initial);
    const onednn = forwardBackward('onednn', initial);
    assertClose(onednn.predictions, cpu.predictions, 'predictions');
    assert.equal(onednn.gradients.length, cpu.gradients.length);
    onednn.gradients.forEach((g, i) => {
      assertCloseL2(g, cpu.gradients[i], `gradient ${i}`, GRADIENT_TOLERANCE);
    });
    // The update from the same gradients on both engines (the optimizer's kernels), to 1e-3.
    const expected = adamStep('cpu', initial, cpu.gradients);
    adamStep('onednn', initial, cpu.gradients).forEach((w, i) => {
      assertClose(w, expected[i], `weight ${i} after one Adam step`);
    });
    tf.dispose(initial);
  });
});
