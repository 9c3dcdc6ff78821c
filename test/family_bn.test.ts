import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convBnRelu, googlenetCifar, modelSummary, tf } from '../src/index';

const close = tf.test_util.expectArraysClose;

test('conv → BN → ReLU: batch statistics in training, moving statistics at inference', () => {
  const input = tf.input({ shape: [6, 5, 3] });
  const model = tf.model({ inputs: input, outputs: convBnRelu(input, 4, 3, 'block') });
  const x = tf.randomNormal([8, 6, 5, 3], 2, 3, 'float32', 1);
  const z = model.getLayer('block_conv').apply(x) as tf.Tensor;
  const { mean, variance } = tf.moments(z, [0, 1, 2]);
  const bn = model.getLayer('block_bn');
  const [gamma, beta] = bn.getWeights();
  // With the moving statistics set to this batch's statistics, inference equals training mode.
  bn.setWeights([gamma, beta, mean, variance]);
  const training = model.apply(x, { training: true }) as tf.Tensor;
  const inference = model.predict(x) as tf.Tensor;
  close(training.dataSync(), inference.dataSync(), 1e-4);
  // With other moving statistics, inference follows them and training mode does not.
  bn.setWeights([gamma, beta, tf.zerosLike(mean), tf.onesLike(variance)]);
  close((model.predict(x) as tf.Tensor).dataSync(), tf.relu(tf.div(z, Math.sqrt(1 + 1e-3))).dataSync(), 1e-4);
  close((model.apply(x, { training: true }) as tf.Tensor).dataSync(), training.dataSync(), 1e-4);
  model.dispose();
});

test('googlenet-cifar with BN: moving statistics move in training mode only, and are non-trainable', () => {
  const model = googlenetCifar({ inputShape: [8, 8, 3], widthMultiplier: 0.05, numClasses: 3, seed: 1 });
  const s = modelSummary(model);
  const bnLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  const channels = bnLayers.reduce((n, l) => n + (l.outputShape as number[])[3], 0);
  assert.equal(bnLayers.length, 1 + 9 * 6);
  assert.equal(s.nonTrainableParams, 2 * channels);
  assert.ok(model.nonTrainableWeights.every((w) => /moving_(mean|variance)/.test(w.originalName)));
  assert.ok(!model.trainableWeights.some((w) => /moving/.test(w.originalName)));
  const summaryRow = s.layers.find((r) => r.name === 'conv_1_3x3_1_bn')!;
  assert.equal(summaryRow.params, 4 * 10); // gamma, beta, moving mean, moving variance of 10 channels

  const x = tf.randomNormal([6, 8, 8, 3], 1, 2, 'float32', 3);
  const movingMean = () => bnLayers[0].getWeights()[2].arraySync() as number[];
  const fresh = model.predict(x) as tf.Tensor;
  model.predict(x); // inference leaves the statistics alone
  assert.deepEqual(movingMean(), new Array(10).fill(0));
  for (let i = 0; i < 3; i++) tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
  assert.ok(
    movingMean().some((m) => m !== 0),
    'moving mean should have moved',
  );
  const inference = model.predict(x) as tf.Tensor;
  const training = model.apply(x, { training: true }) as tf.Tensor;
  assert.ok(
    tf.max(tf.abs(tf.sub(inference, fresh))).dataSync()[0] > 1e-6,
    'inference follows the new statistics',
  );
  assert.ok(
    tf.max(tf.abs(tf.sub(inference, training))).dataSync()[0] > 1e-4,
    'training uses batch statistics',
  );
  model.dispose();
});
