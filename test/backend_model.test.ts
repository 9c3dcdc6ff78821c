import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { googlenet, tf } from '../src/index';
import { assertClose, seededTensor, skipWithoutAddon } from './helpers/onednn';

/** The default GoogLeNet at 64x64 (quick), without dropout so that both backends compute the same thing. */
const INPUT: [number, number, number] = [64, 64, 3];
const BATCH = 2;

interface StepResult {
  predictions: Float32Array;
  gradients: Float32Array[];
  weights: Float32Array[];
}

/** Predictions, the loss gradients and the weights after one Adam step, from the given initial weights. */
async function oneStep(backend: 'cpu' | 'onednn', initial: tf.Tensor[]): Promise<StepResult> {
  tf.setBackend(backend);
  const model = googlenet({ inputShape: INPUT, dropout: 0 });
  model.setWeights(initial);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const x = seededTensor([BATCH, ...INPUT], 1);
  const y = tf.oneHot(tf.tensor1d([3, 7], 'int32'), 10);
  const predictions = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
  const { grads, value } = tf.variableGrads(() =>
    tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
  );
  const gradients = model.trainableWeights.map((w) => grads[w.originalName].dataSync() as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  await model.trainOnBatch(x, y);
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  return { predictions, gradients, weights };
}

describe('GoogLeNet on onednn matches cpu', { skip: skipWithoutAddon }, () => {
  test('same predictions, gradients and weights after one Adam step (64x64, identical weights)', async () => {
    tf.setBackend('cpu');
    const reference = googlenet({ inputShape: INPUT, dropout: 0 });
    const initial = reference.getWeights().map((w) => w.clone());
    reference.dispose();
    const cpu = await oneStep('cpu', initial);
    const onednn = await oneStep('onednn', initial);
    tf.dispose(initial);
    assertClose(onednn.predictions, cpu.predictions, 'predictions');
    assert.equal(onednn.gradients.length, cpu.gradients.length);
    onednn.gradients.forEach((g, i) => {
      assertClose(g, cpu.gradients[i], `gradient ${i}`);
    });
    onednn.weights.forEach((w, i) => {
      assertClose(w, cpu.weights[i], `weight ${i} after one Adam step`);
    });
  });
});
