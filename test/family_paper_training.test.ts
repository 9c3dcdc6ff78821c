import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileWithAuxLosses, googlenetPaper, inferenceModel, tf } from '../src/index';

function batch(numClasses: number) {
  const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), numClasses).toFloat();
  return { x, y };
}

test('aux-loss weighting: total loss = main + 0.3 * aux_1 + 0.3 * aux_2', async () => {
  const model = googlenetPaper({
    auxClassifiers: true,
    inputShape: [32, 32, 3],
    widthMultiplier: 0.05,
    numClasses: 3,
    seed: 1,
  });
  // Make the three heads disagree so that any other weighting gives another total.
  const auxOut = model.getLayer('aux_1_output');
  auxOut.setWeights(auxOut.getWeights().map((w) => tf.mul(w, 5)));
  const { x, y } = batch(3);
  // The loss that training minimises, on one batch, without changing the weights (learning rate 0) and
  // with dropout off so that it sees the same outputs as predict. (tfjs 4.22's evaluate() reports running
  // sums for multi-output models, so the training path is the one to check.)
  const dropouts = model.layers.filter((l) => l.getClassName() === 'Dropout') as any[];
  const rates = dropouts.map((l) => l.rate);
  for (const l of dropouts) l.rate = 0;
  compileWithAuxLosses(model, { optimizer: tf.train.sgd(0), metrics: ['accuracy'] });
  const [total, main, aux1, aux2] = (await model.trainOnBatch(x, [y, y, y])) as number[];
  dropouts.forEach((l, i) => {
    l.rate = rates[i];
  });
  const outputs = model.predict(x) as tf.Tensor[];
  const ce = outputs.map((p) => tf.metrics.categoricalCrossentropy(y, p).mean().dataSync()[0]);
  assert.ok(Math.abs(ce[1] - ce[0]) > 0.01, `heads should differ: ${ce}`);
  assert.ok(Math.abs(total - (ce[0] + 0.3 * ce[1] + 0.3 * ce[2])) < 1e-4, `${total} vs ${ce}`);
  // tfjs reports the weighted per-output losses; metrics are on the main output only.
  assert.ok(Math.abs(main - ce[0]) < 1e-4, `${main} vs ${ce[0]}`);
  assert.ok(Math.abs(aux1 - 0.3 * ce[1]) < 1e-4 && Math.abs(aux2 - 0.3 * ce[2]) < 1e-4, `${aux1} ${aux2}`);
  assert.deepEqual(model.metricsNames, [
    'loss',
    'output_loss',
    'aux_1_output_loss',
    'aux_2_output_loss',
    'output_acc',
  ]);

  compileWithAuxLosses(model, { optimizer: tf.train.sgd(0.1) });
  // One fit step trains through all three heads; the inference model sees the updated shared weights.
  const inference = inferenceModel(model);
  const before = (inference.predict(x) as tf.Tensor).arraySync();
  const history = await model.fit(x, [y, y, y], { batchSize: 4, epochs: 1, verbose: 0 });
  assert.ok(Number.isFinite(history.history.loss[0] as number));
  const after = inference.predict(x) as tf.Tensor;
  assert.notDeepEqual(after.arraySync(), before);
  assert.deepEqual(after.arraySync(), (model.predict(x) as tf.Tensor[])[0].arraySync());
  assert.throws(() => compileWithAuxLosses(model, { optimizer: 'sgd', auxWeight: -1 }), /auxWeight.*got -1/);
  assert.throws(() => compileWithAuxLosses(model, { optimizer: 'sgd', loss: 'nope' }), /unknown loss "nope"/);
  model.dispose();
});
