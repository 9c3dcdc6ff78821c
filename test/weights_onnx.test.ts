import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import type * as Ort from 'onnxruntime-node';
import { exportOnnxBytes } from '../src/export/onnx';
import { backendReady, googlenet, tf } from '../src/index';
import { googlenetPaper } from '../src/models/googlenet_paper';
import {
  loadOnnxGoogLeNetWeights,
  ONNX_GOOGLENET_MEAN_RGB,
  ONNX_GOOGLENET_PREPROCESSING,
} from '../src/weights/onnx_googlenet';
import { seeded } from './helpers/onednn';
import { withOutputs, zooGoogLeNet } from './support/onnx_zoo_googlenet';
import { ort, ortMissing } from './support/optional_ort';

const SIZE = 224;
const FEATURES = 'pool5/7x7_s1_2';

/** A seeded RGB "photo" of 0-255 values, HWC. */
function photo(seed: number): Float32Array {
  return seeded(SIZE * SIZE * 3, seed).map((v) => Math.floor((v + 1) * 128));
}

/** What our model takes: RGB, pixel - mean, through the Preprocessing constants (pixel/255 - mean) / std. */
function ourInput(images: Float32Array[]): tf.Tensor4D {
  const { mean, std } = ONNX_GOOGLENET_PREPROCESSING;
  const data = new Float32Array(images.length * SIZE * SIZE * 3);
  images.forEach((img, n) => {
    for (let i = 0; i < img.length; i++) data[n * img.length + i] = (img[i] / 255 - mean[i % 3]) / std[i % 3];
  });
  return tf.tensor4d(data, [images.length, SIZE, SIZE, 3]);
}

/** What the zoo network takes: NCHW, BGR, pixel - mean, as its README's preprocess() computes it. */
function zooInput(img: Float32Array): Float32Array {
  const plane = SIZE * SIZE;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const rgb = 2 - c;
    for (let p = 0; p < plane; p++) out[c * plane + p] = img[p * 3 + rgb] - ONNX_GOOGLENET_MEAN_RGB[rgb];
  }
  return out;
}

let zooSession: Ort.InferenceSession | null = null;

/** onnxruntime on one image (the zoo graph's Reshape fixes batch 1): prob_1 and the pool5 features. */
async function runZoo(img: Float32Array): Promise<{ prob: Float32Array; features: Float32Array }> {
  zooSession ??= await ort!.InferenceSession.create(withOutputs(zoo9Bytes, [FEATURES]), {
    logSeverityLevel: 3,
  });
  const out = await zooSession.run({ data_0: new ort!.Tensor('float32', zooInput(img), [1, 3, SIZE, SIZE]) });
  return { prob: out.prob_1.data as Float32Array, features: out[FEATURES].data as Float32Array };
}

/** googlenet-paper's outputs: the softmax, and the 7x7 average pool (the zoo's pool5). */
function runOurs(
  model: tf.LayersModel,
  images: Float32Array[],
): { prob: Float32Array; features: Float32Array } {
  // The 7x7 average pool with the top; the global one (pooling: 'avg') without it.
  const pool = model.layers.find((l) => l.name === 'avg_pool_5_7x7_1' || l.name === 'avg_pool_5_global')!;
  const outputs = model.layers.some((l) => l.name === 'output')
    ? [pool.output, model.outputs[0]]
    : [pool.output];
  const probe = tf.model({ inputs: model.inputs, outputs: outputs as tf.SymbolicTensor[] });
  const x = ourInput(images);
  const ys = [probe.predict(x)].flat() as tf.Tensor[];
  const result = {
    features: ys[0].dataSync() as Float32Array,
    prob: (ys[1]?.dataSync() ?? new Float32Array()) as Float32Array,
  };
  tf.dispose([x, ...ys]);
  return result;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest |log p - log q| over the classes whose probability float32 still resolves. */
function maxLogDiff(p: Float32Array, q: Float32Array): number {
  let m = 0;
  for (let i = 0; i < p.length; i++)
    if (q[i] > 1e-30) m = Math.max(m, Math.abs(Math.log(p[i]) - Math.log(q[i])));
  return m;
}

function weightsOf(model: tf.LayersModel, layer: string): Float32Array[] {
  return model
    .getLayer(layer)
    .getWeights()
    .map((w) => w.dataSync() as Float32Array);
}

let dir: string;
let zoo9: string; // googlenet-9 form, seed 1
let zoo9Bytes: Uint8Array;

before(async () => {
  await backendReady;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-googlenet-'));
  zoo9Bytes = onnx.ModelProto.encode(zooGoogLeNet({ opset: 9, seed: 1 })).finish();
  zoo9 = path.join(dir, 'googlenet-9.onnx');
  await fs.writeFile(zoo9, zoo9Bytes);
});

after(async () => {
  await zooSession?.release();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('loadOnnxGoogLeNetWeights: the ONNX zoo GoogLeNet in googlenet-paper (caffe: true)', () => {
  test('outputs equal onnxruntime running the same file within 1e-4 (RGB in, BGR zoo)', {
    skip: ortMissing,
  }, async (t) => {
    const model = googlenetPaper({ caffe: true, numClasses: 1000, seed: 3 });
    const lines: string[] = [];
    await loadOnnxGoogLeNetWeights(model, zoo9, { print: (l) => lines.push(l) });
    assert.deepEqual(lines, [`${zoo9}: loaded 116 tensors of the ONNX zoo GoogLeNet`]);
    const images = [photo(11), photo(12)];
    const ours = runOurs(model, images);
    for (const [n, img] of images.entries()) {
      const ref = await runZoo(img);
      const prob = ours.prob.subarray(n * 1000, (n + 1) * 1000);
      const features = ours.features.subarray(n * 1024, (n + 1) * 1024);
      const dProb = maxAbsDiff(prob, ref.prob);
      const dLog = maxLogDiff(prob, ref.prob);
      const dFeat = maxAbsDiff(features, ref.features) / maxAbs(ref.features);
      const top = Math.max(...ref.prob);
      t.diagnostic(
        `image ${n}: max|Δprob| ${dProb.toExponential(2)}, max|Δlog prob| ${dLog.toExponential(2)}, pool5 max|Δ|/max ${dFeat.toExponential(2)} (max ${maxAbs(ref.features).toFixed(1)}), top prob ${top.toFixed(3)}`,
      );
      // The comparison means something only if the softmax is neither flat nor one-hot.
      assert.ok(top > 0.01 && top < 0.99, `top probability ${top}`);
      assert.ok(dProb < 1e-4, `prob diff ${dProb}`);
      assert.ok(dLog < 1e-3, `log prob diff ${dLog}`);
      assert.ok(dFeat < 1e-5, `pool5 relative diff ${dFeat}`);
    }
    // Two different photos give different answers (no constant network).
    assert.ok(maxAbsDiff(ours.prob.subarray(0, 1000), ours.prob.subarray(1000)) > 1e-3);
  });

  test('the opset-12 form loads the same weights', async () => {
    const file = path.join(dir, 'googlenet-12.onnx');
    await fs.writeFile(file, onnx.ModelProto.encode(zooGoogLeNet({ opset: 12, seed: 1 })).finish());
    const a = googlenetPaper({ caffe: true, numClasses: 1000, seed: 4 });
    const b = googlenetPaper({ caffe: true, numClasses: 1000, seed: 5 });
    await loadOnnxGoogLeNetWeights(a, zoo9);
    await loadOnnxGoogLeNetWeights(b, file);
    for (const layer of ['conv_1_7x7_2', 'inception_5b_pool_proj', 'output']) {
      assert.deepEqual(weightsOf(a, layer), weightsOf(b, layer), layer);
    }
  });

  test('another numClasses or no top: the body is loaded, the head kept', { skip: ortMissing }, async () => {
    const img = photo(13);
    const ref = await runZoo(img);
    const tenClasses = googlenetPaper({ caffe: true, numClasses: 10, seed: 6 });
    const head = weightsOf(tenClasses, 'output');
    const lines: string[] = [];
    await loadOnnxGoogLeNetWeights(tenClasses, zoo9, { print: (l) => lines.push(l) });
    assert.match(lines[0], /loaded 114 tensors .*keeps its own classifier/);
    assert.deepEqual(weightsOf(tenClasses, 'output'), head, 'head untouched');
    const noTop = googlenetPaper({ caffe: true, includeTop: false, pooling: 'avg' });
    await loadOnnxGoogLeNetWeights(noTop, zoo9);
    for (const model of [tenClasses, noTop]) {
      const { features } = runOurs(model, [img]);
      assert.ok(maxAbsDiff(features, ref.features) / maxAbs(ref.features) < 1e-5, model.name);
    }
  });
});

describe('loadOnnxGoogLeNetWeights: bad input is one line naming the file and the tensor, the model untouched', () => {
  // One model takes every bad file: each failed load must leave it as it was.
  let target: tf.LayersModel;
  before(() => {
    target = googlenetPaper({ caffe: true, numClasses: 1000, seed: 7 });
  });

  /** Writes a mutated copy of the googlenet-9 fixture and returns the error loading it into `model`. */
  async function loadError(
    name: string,
    mutate: (m: onnx.ModelProto) => void,
    model = target,
  ): Promise<{ message: string; file: string; unchanged: boolean }> {
    const proto = onnx.ModelProto.decode(zoo9Bytes);
    mutate(proto);
    const file = path.join(dir, name);
    await fs.writeFile(file, onnx.ModelProto.encode(proto).finish());
    const firstConv = weightsOf(model, 'conv_1_7x7_2');
    const error = await loadOnnxGoogLeNetWeights(model, file).then(
      () => assert.fail('loaded'),
      (e: Error) => e,
    );
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    assert.ok(error.message.startsWith(`${file}: `), error.message);
    return {
      message: error.message,
      file,
      unchanged: sameWeights(firstConv, weightsOf(model, 'conv_1_7x7_2')),
    };
  }

  function sameWeights(a: Float32Array[], b: Float32Array[]): boolean {
    return a.length === b.length && a.every((w, i) => maxAbsDiff(w, b[i]) === 0);
  }

  function tensor(m: onnx.ModelProto, name: string): onnx.ITensorProto {
    return m.graph!.initializer!.find((t) => t.name === name)!;
  }

  /** The load fails with exactly one line that starts with `file: ` and matches `pattern`. */
  async function rejectsWith(model: tf.LayersModel, file: string, pattern: RegExp): Promise<void> {
    await assert.rejects(loadOnnxGoogLeNetWeights(model, file), (e: Error) => {
      assert.ok(e.message.startsWith(`${file}: `) && !e.message.includes('\n'), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  }

  test('a truncated file', async () => {
    const file = path.join(dir, 'truncated.onnx');
    await fs.writeFile(file, zoo9Bytes.subarray(0, zoo9Bytes.length >> 1));
    await rejectsWith(
      target,
      file,
      /: not a readable ONNX model \(truncated or not ONNX\): index out of range/,
    );
  });

  test('a missing file and a file that is not ONNX', async () => {
    const missing = path.join(dir, 'nope.onnx');
    await rejectsWith(target, missing, /: cannot read the ONNX file: ENOENT/);
    const text = path.join(dir, 'notes.onnx');
    await fs.writeFile(text, 'these are not the weights you are looking for\n');
    await rejectsWith(target, text, /: not (a readable|an) ONNX model/);
  });

  test("another architecture: the project's own ONNX export of googlenet", async () => {
    const file = path.join(dir, 'ours.onnx');
    const narrow = googlenet({ inputShape: [64, 64, 3], numClasses: 5, widthMultiplier: 0.25 });
    await fs.writeFile(file, exportOnnxBytes(narrow));
    await rejectsWith(target, file, /: initializer conv1\/7x7_s2_w_0 is missing/);
  });

  test('a wrong shape names the initializer and the layer; nothing is written', async () => {
    const r = await loadError('shape.onnx', (m) => {
      tensor(m, 'inception_4a/5x5_w_0').dims = [16, 48, 5, 5]; // OIHW [48, 16, 5, 5] with O and I swapped
    });
    assert.match(
      r.message,
      /initializer inception_4a\/5x5_w_0 has shape \[16, 48, 5, 5\], layer inception_4a_5x5 needs \[48, 16, 5, 5\]$/,
    );
    assert.ok(r.unchanged, 'conv_1_7x7_2 (checked before the bad tensor) still has its own weights');
  });

  test('a NaN weight, a non-float weight, an unexpected weight, a classifier of another width', async () => {
    const nan = await loadError('nan.onnx', (m) => {
      const t = tensor(m, 'inception_5b/3x3_b_0');
      const values = new Float32Array(Uint8Array.from(t.rawData!).buffer);
      values[7] = Number.NaN;
      t.rawData = new Uint8Array(values.buffer);
    });
    assert.match(nan.message, /initializer inception_5b\/3x3_b_0 holds NaN at index 7$/);
    assert.ok(nan.unchanged);
    const double = await loadError('double.onnx', (m) => {
      tensor(m, 'conv2/3x3_b_0').dataType = onnx.TensorProto.DataType.DOUBLE;
    });
    assert.match(double.message, /initializer conv2\/3x3_b_0 is DOUBLE, expected FLOAT$/);
    const aux = await loadError('aux.onnx', (m) => {
      m.graph!.initializer!.push({ name: 'loss1/classifier_w_0', dims: [1], dataType: 1, floatData: [0] });
    });
    assert.match(aux.message, /unexpected initializer loss1\/classifier_w_0/);
    const fc = await loadError('fc.onnx', (m) => {
      tensor(m, 'loss3/classifier_w_0').dims = [2000, 512];
    });
    assert.match(
      fc.message,
      /initializers loss3\/classifier_w_0 \[2000, 512\] and loss3\/classifier_b_0 \[1000\] do not fit together$/,
    );
  });

  test('another LRN or conv padding than the model: a non-caffe googlenet-paper is refused', async () => {
    const lrn = await loadError('lrn.onnx', (m) => {
      const node = m.graph!.node!.find((n) => n.opType === 'LRN')!;
      node.attribute!.find((a) => a.name === 'alpha')!.f = 2e-4;
    });
    assert.match(lrn.message, /LRN pool1\/norm1_1 .* differs from layer lrn_1/);
    const keras = await loadError('keras-padding.onnx', () => {}, googlenetPaper({ numClasses: 1000 }));
    assert.match(
      keras.message,
      /Conv conv1\/7x7_s2 has strides \[2, 2\] pads \[3, 3, 3, 3\], layer conv_1_7x7_2 strides \[2, 2\] pads \[2, 2, 3, 3\]; build it with googlenetPaper\(\{ caffe: true \}\)$/,
    );
    const wide = await loadError(
      'wide.onnx',
      () => {},
      googlenetPaper({ caffe: true, widthMultiplier: 0.5 }),
    );
    assert.match(
      wide.message,
      /initializer conv1\/7x7_s2_w_0 has shape \[64, 3, 7, 7\], layer conv_1_7x7_2 needs \[32, 3, 7, 7\]$/,
    );
  });
});
