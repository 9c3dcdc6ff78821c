import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { onnx } from 'onnx-proto';
import { exportOnnx, exportOnnxBytes } from '../src/export/onnx';
import {
  backendReady,
  buildModel,
  googlenet,
  inferenceModel,
  LRN,
  MODEL_BUILDERS,
  type ModelInfo,
  tf,
} from '../src/index';
import { maxAbsDiff, onnxCheck, onnxCheckerUnavailable, runOnnx } from './support/onnx_runtime';

const checkerMissing = onnxCheckerUnavailable();

function infoFor(model: tf.LayersModel, classes: number): ModelInfo {
  const [, h, w, c] = model.inputs[0].shape as number[];
  return {
    model: model.name,
    widthMultiplier: 1,
    labels: Array.from({ length: classes }, (_, i) => `class_${i}`),
    preprocessing: { inputShape: [h, w, c], mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2], resize: 'fill' },
  };
}

/**
 * Replaces every weight with seeded noise (BN variances positive, biases non-zero) so no layer is a no-op by
 * accident; kernels get std 1/sqrt(fan-in) so deep nets keep activations near 1 and 1e-4 stays meaningful.
 */
function randomizeWeights(model: tf.LayersModel, seed = 1): void {
  for (const layer of model.layers) {
    const ws = layer.weights.map((w, i) => {
      const shape = w.shape as number[];
      const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 4;
      const t = tf.randomNormal(shape, 0, 1 / Math.sqrt(fanIn), 'float32', seed + i);
      return w.originalName.endsWith('moving_variance') ? tf.add(tf.abs(t), 0.1) : t;
    });
    if (ws.length) layer.setWeights(ws);
    seed += 17;
  }
}

/** Exports, runs on onnxruntime and compares with tfjs predict on the same batch; returns the max diff. */
async function parity(model: tf.LayersModel, batch: number, file?: string): Promise<number> {
  await backendReady;
  const shape = [batch, ...(model.inputs[0].shape.slice(1) as number[])];
  const x = tf.randomUniform(shape, -2, 2, 'float32', 42);
  const expected = model.predict(x) as tf.Tensor;
  // Generic models (5 channels, rank-4 outputs...) export without a classifier's metadata.
  const bytes = exportOnnxBytes(model);
  if (file) await fs.writeFile(file, bytes);
  const got = await runOnnx(bytes, x);
  assert.deepEqual([...got.dims], expected.shape, 'onnx output shape = tfjs output shape');
  const diff = maxAbsDiff(got.data, expected.dataSync());
  x.dispose();
  expected.dispose();
  return diff;
}

test('narrow googlenet: onnxruntime matches tfjs within 1e-4 at batch 1 and 3; onnx.checker passes', async (t) => {
  const model = googlenet({
    inputShape: [40, 40, 3],
    numClasses: 7,
    widthMultiplier: 0.1,
    classifierActivation: 'linear',
  });
  randomizeWeights(model);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-'));
  const file = path.join(dir, 'googlenet.onnx');
  const d1 = await parity(model, 1);
  const d3 = await parity(model, 3, file);
  t.diagnostic(`max |onnx - tfjs| batch 1: ${d1.toExponential(2)}, batch 3: ${d3.toExponential(2)}`);
  assert.ok(d1 < 1e-4 && d3 < 1e-4, `diffs ${d1} ${d3}`);
  if (checkerMissing) t.diagnostic(`onnx.checker skipped: ${checkerMissing}`);
  else assert.equal(onnxCheck(file), '');
  model.dispose();
  await fs.rm(dir, { recursive: true });
});

test('metadata_props carry labels, preprocessing and layout; batch is dynamic; opset 13', async () => {
  const model = googlenet({ inputShape: [32, 32, 3], numClasses: 3, widthMultiplier: 0.05 });
  const info = infoFor(model, 3);
  const decoded = onnx.ModelProto.decode(exportOnnxBytes(model, info));
  const meta = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
  assert.deepEqual(JSON.parse(meta.labels), info.labels);
  assert.deepEqual(JSON.parse(meta.preprocessing), info.preprocessing);
  assert.equal(meta.input_layout, 'NHWC');
  assert.equal(Number(decoded.opsetImport[0].version), 13);
  const input = decoded.graph!.input![0];
  assert.equal(input.name, 'input');
  const dims = input.type!.tensorType!.shape!.dim!;
  assert.equal(dims[0].dimParam, 'batch');
  assert.deepEqual(
    dims.slice(1).map((d) => Number(d.dimValue)),
    [32, 32, 3],
  );
  assert.equal(decoded.graph!.output![0].name, 'output');
  model.dispose();
});

/** A small functional model built by `body` on an input of `shape`, weights randomized. */
function small(shape: number[], body: (x: tf.SymbolicTensor) => tf.SymbolicTensor): tf.LayersModel {
  const input = tf.input({ shape, name: 'input' });
  const model = tf.model({ inputs: input, outputs: body(input) });
  randomizeWeights(
    model,
    shape.reduce((a, b) => a + b),
  );
  return model;
}

const L = tf.layers;
const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
  layer.apply(x) as tf.SymbolicTensor;

const CASES: Record<string, { shape: number[]; body: (x: tf.SymbolicTensor) => tf.SymbolicTensor }> = {
  'conv same stride 2 relu, odd size': {
    shape: [13, 11, 5],
    body: (x) =>
      apply(L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), x),
  },
  'conv valid 5x3, no bias, sigmoid': {
    shape: [9, 10, 3],
    body: (x) =>
      apply(
        L.conv2d({ filters: 4, kernelSize: [5, 3], padding: 'valid', useBias: false, activation: 'sigmoid' }),
        x,
      ),
  },
  'conv same, stride 2 on even size, dilation 2, tanh': {
    shape: [12, 12, 2],
    body: (x) => {
      const y = apply(
        L.conv2d({ filters: 3, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh' }),
        x,
      );
      return apply(
        L.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'elu' }),
        y,
      );
    },
  },
  'max pool same 3/2 and valid 2/2, odd sizes': {
    shape: [15, 9, 3],
    body: (x) => {
      const y = apply(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
      return apply(L.maxPooling2d({ poolSize: 2, padding: 'valid' }), y);
    },
  },
  'avg pool same 3/1 (count excludes padding) and same 3/2 and valid 3/2': {
    shape: [11, 7, 4],
    body: (x) => {
      const a = apply(L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }), x);
      const b = apply(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), a);
      return apply(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'valid' }), b);
    },
  },
  'concatenate branches on channels, 4-D softmax activation': {
    shape: [7, 7, 3],
    body: (x) => {
      const a = apply(L.conv2d({ filters: 2, kernelSize: 1 }), x);
      const b = apply(L.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }), x);
      const c = apply(L.concatenate({ axis: -1 }), [a, b]);
      return apply(L.activation({ activation: 'softmax' }), c);
    },
  },
  'batch normalization (conv, 2-D, no scale/center) + relu activation': {
    shape: [6, 5, 3],
    body: (x) => {
      let y = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }), x);
      y = apply(L.batchNormalization({ epsilon: 1e-3 }), y);
      y = apply(L.activation({ activation: 'relu' }), y);
      y = apply(L.globalAveragePooling2d({}), y);
      y = apply(L.batchNormalization({ scale: false, center: false }), y);
      return apply(L.dense({ units: 3, activation: 'softmax' }), y);
    },
  },
  'flatten keeps Keras HWC order, dropout omitted, dense relu6 + add': {
    shape: [5, 3, 4],
    body: (x) => {
      const f = apply(L.flatten({}), apply(L.conv2d({ filters: 3, kernelSize: 2, padding: 'valid' }), x));
      const d = apply(L.dropout({ rate: 0.5 }), f);
      const a = apply(L.dense({ units: 6, activation: 'relu6' }), d);
      const b = apply(L.dense({ units: 6, activation: 'softplus' }), d);
      return apply(L.add({}), [a, b]);
    },
  },
  'global average pooling on a non-square map, rank-4 output': {
    shape: [9, 4, 6],
    body: (x) =>
      apply(
        L.globalAveragePooling2d({}),
        apply(L.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same' }), x),
      ),
  },
  'LRN (tfjs localResponseNormalization semantics), odd radius and channels': {
    shape: [5, 6, 7],
    body: (x) => {
      const y = apply(new LRN({ depthRadius: 2, bias: 1.5, alpha: 0.3, beta: 0.75 }), x);
      return apply(new LRN({ depthRadius: 1, bias: 2, alpha: 0.1, beta: 0.5 }), y);
    },
  },
  'rank-4 output goes back to NHWC': {
    shape: [5, 7, 2],
    body: (x) => apply(L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), x),
  },
};

for (const [name, { shape, body }] of Object.entries(CASES)) {
  test(`layer parity: ${name}`, async () => {
    const model = small(shape, body);
    const diff = await parity(model, 2);
    assert.ok(diff < 1e-4, `max diff ${diff}`);
    model.dispose();
  });
}

/** Builders whose stride-2 stages need more than 64x64 (Keras's InceptionV3: 75). */
const MIN_INPUT: Record<string, [number, number, number]> = { 'inception-v3': [75, 75, 3] };

for (const name of Object.keys(MODEL_BUILDERS)) {
  test(`family model ${name} (narrow, BN moving stats randomized): onnxruntime matches tfjs`, async () => {
    const inputShape = MIN_INPUT[name] ?? [64, 64, 3];
    const model = inferenceModel(buildModel(name, { inputShape, numClasses: 5, widthMultiplier: 0.1 }));
    randomizeWeights(model, 7);
    const diff = await parity(model, 2);
    assert.ok(diff < 1e-4, `max diff ${diff}`);
    model.dispose();
  });
}

test('a Sequential model exports like a functional one', async () => {
  const model = tf.sequential({
    layers: [
      L.conv2d({ inputShape: [9, 9, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 4, activation: 'softmax' }),
    ],
  });
  randomizeWeights(model, 5);
  const diff = await parity(model, 3);
  assert.ok(diff < 1e-4, `max diff ${diff}`);
  model.dispose();
});

test('every small model passes onnx.checker', async (t) => {
  if (checkerMissing) {
    t.skip(`onnx.checker unavailable: ${checkerMissing}`);
    return;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-'));
  for (const [name, { shape, body }] of Object.entries(CASES)) {
    const model = small(shape, body);
    const file = path.join(dir, 'm.onnx');
    await exportOnnx(model, undefined, file);
    assert.equal(onnxCheck(file), '', name);
    model.dispose();
  }
  await fs.rm(dir, { recursive: true });
});

test('an unsupported layer is an error naming the layer and its class', () => {
  const model = small([8, 8, 3], (x) => apply(L.depthwiseConv2d({ kernelSize: 3, name: 'dw_conv' }), x));
  assert.throws(() => exportOnnxBytes(model), /layer dw_conv \(DepthwiseConv2D\) has no ONNX mapping/);
  const act = small([4], (x) => apply(L.activation({ activation: 'hardSigmoid', name: 'hard' }), x));
  assert.throws(() => exportOnnxBytes(act), /layer hard \(Activation\).*hardSigmoid/);
});
