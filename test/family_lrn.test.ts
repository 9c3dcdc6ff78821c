import assert from 'node:assert/strict';
import { test } from 'node:test';
import { googlenetPaper, inferenceModel, LRN, lrn, onnxLRNAttributes, PAPER_LRN, tf } from '../src/index';

const close = tf.test_util.expectArraysClose;

/** Caffe's LRN across channels, written out: x / (k + alpha / size * sum of squares in the window)^beta. */
function caffeLRN(x: tf.Tensor4D, size: number, alpha: number, beta: number, k: number): number[] {
  const [n, h, w, c] = x.shape;
  const v = x.dataSync();
  const out: number[] = [];
  const half = (size - 1) / 2;
  for (let p = 0; p < n * h * w; p++) {
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let j = Math.max(0, ch - half); j <= Math.min(c - 1, ch + half); j++) sum += v[p * c + j] ** 2;
      out.push(v[p * c + ch] / (k + (alpha / size) * sum) ** beta);
    }
  }
  return out;
}

test("LRN's defaults are the paper's Caffe LRN (size 5, alpha 1e-4, beta 0.75, k 1)", () => {
  assert.deepEqual(PAPER_LRN, { depthRadius: 2, bias: 1, alpha: 2e-5, beta: 0.75 });
  // Large activations (as after a ReLU on raw pixels) so that the normalisation is far from identity.
  const x = tf.mul(tf.randomNormal([2, 3, 4, 7], 0, 1, 'float32', 5), 150) as tf.Tensor4D;
  const y = lrn().apply(x) as tf.Tensor;
  const expected = caffeLRN(x, 5, 1e-4, 0.75, 1);
  close(y.dataSync(), expected, 1e-3);
  assert.ok(tf.max(tf.abs(tf.sub(y, x))).dataSync()[0] > 1, 'LRN should change large activations');
});

test('LRN layer equals tf.localResponseNormalization for any config, and has a gradient', () => {
  const x = tf.randomNormal([1, 3, 3, 9], 0, 2, 'float32', 6) as tf.Tensor4D;
  const config = { depthRadius: 3, bias: 1.5, alpha: 0.1, beta: 0.6 };
  const layer = new LRN(config);
  close(
    (layer.apply(x) as tf.Tensor).dataSync(),
    tf.localResponseNormalization(x, 3, 1.5, 0.1, 0.6).dataSync(),
    1e-6,
  );
  // ONNX (and Caffe) LRN: size = 2 * depthRadius + 1, alpha multiplied back by size.
  const onnx = onnxLRNAttributes(layer);
  assert.deepEqual(onnx, { size: 7, alpha: 0.7000000000000001, beta: 0.6, bias: 1.5 });
  close(
    (layer.apply(x) as tf.Tensor).dataSync(),
    caffeLRN(x, onnx.size, onnx.alpha, onnx.beta, onnx.bias),
    1e-4,
  );
  assert.deepEqual(onnxLRNAttributes(PAPER_LRN), { size: 5, alpha: 1e-4, beta: 0.75, bias: 1 });
  const grad = tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t) as tf.Tensor))(x);
  assert.deepEqual(grad.shape, x.shape);
  assert.ok(grad.dataSync().every(Number.isFinite));
  assert.throws(() => new LRN({ depthRadius: -1 }), /depthRadius must be a non-negative integer, got -1/);
  assert.throws(() => new LRN({ beta: Number.NaN }), /beta must be a finite number, got null/);
});

async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(saved!));
}

test('LRN serialises: a saved model reloads with the same config and outputs', async () => {
  const input = tf.input({ shape: [4, 4, 6] });
  const config = { depthRadius: 1, bias: 2, alpha: 0.3, beta: 0.5 };
  const model = tf.model({
    inputs: input,
    outputs: lrn({ ...config, name: 'norm' }).apply(input) as tf.SymbolicTensor,
  });
  const reloaded = await roundTrip(model);
  const layer = reloaded.getLayer('norm');
  assert.ok(layer instanceof LRN);
  assert.equal(layer.getClassName(), 'LRN');
  const { depthRadius, bias, alpha, beta } = layer.getConfig();
  assert.deepEqual({ depthRadius, bias, alpha, beta }, config);
  const x = tf.randomNormal([2, 4, 4, 6], 0, 3, 'float32', 8);
  close((reloaded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync(), 1e-6);

  // The paper's training model (LRN + auxiliary heads) reloads, and its inference model still splits off.
  const paper = googlenetPaper({ inputShape: [32, 32, 3], widthMultiplier: 0.05, auxClassifiers: true });
  const paperReloaded = await roundTrip(paper);
  assert.equal(paperReloaded.getLayer('lrn_2').getClassName(), 'LRN');
  assert.deepEqual(paperReloaded.outputNames, ['output', 'aux_1_output', 'aux_2_output']);
  const img = tf.randomUniform([1, 32, 32, 3], 0, 255, 'float32', 9);
  close(
    (inferenceModel(paperReloaded).predict(img) as tf.Tensor).dataSync(),
    (inferenceModel(paper).predict(img) as tf.Tensor).dataSync(),
    1e-6,
  );
});
