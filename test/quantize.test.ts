import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { decodeImage } from '../src/data/decode';
import { exportOnnxBytes } from '../src/export/onnx';
import { backendReady, loadModelFolder, pretrainedFolder, tf } from '../src/index';
import { precisionUnavailable } from '../src/inference/plan';
import { QUANTIZATION_JSON, weightsSha256 } from '../src/io/quantization_file';
import { calibrateRanges, calibrationImages } from '../src/quantize/calibrate';
import { folderPrecision } from '../src/quantize/precision';
import { quantizeModelFolder } from '../src/quantize/quantize_folder';
import { CIFAR_SAMPLE, FIXTURE_PREPROCESSING, makeModelFolder } from './support/model_folder_fixture';
import { maxAbsDiff, onnxCheck, onnxCheckerUnavailable } from './support/onnx_runtime';
import { ort, ortMissing } from './support/optional_ort';

const MAIN = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
const HELDOUT = path.resolve(__dirname, '..', '..', 'data', 'cifar10-heldout');
const CALIBRATION = path.join(CIFAR_SAMPLE, 'train');
const SHIPPED = pretrainedFolder('cifar10');

let work: string;
/** The shipped cifar10 model quantized by the CLI on 100 of the sample's training images. */
let quantized: string;

function cli(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
}

/** One line on stderr, `inception quantize: error: ...`, and the exit code. */
function assertCliError(r: ReturnType<typeof cli>, code: number, pattern: RegExp): void {
  assert.equal(r.status, code, `exit ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

before(async () => {
  await backendReady;
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'quantize-'));
  quantized = path.join(work, 'cifar10-int8');
  const r = cli(
    'quantize',
    '--model',
    'cifar10',
    '--calibrate',
    CALIBRATION,
    '--calibration-images',
    '100',
    '--out',
    quantized,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*cifar10-int8\/ \(int8: ranges of 190 tensors calibrated on 100 images/);
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

async function heldoutImages(): Promise<{ x: tf.Tensor4D; labels: number[] }> {
  const classes = (await fs.readdir(HELDOUT)).sort();
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, c] of classes.entries()) {
    for (const f of (await fs.readdir(path.join(HELDOUT, c))).sort()) {
      files.push(path.join(HELDOUT, c, f));
      labels.push(label);
    }
  }
  const { info } = { info: JSON.parse(await fs.readFile(path.join(SHIPPED, 'preprocessing.json'), 'utf8')) };
  const images = await Promise.all(files.map((f) => decodeImage(f, info)));
  const x = tf.tensor4d(Float32Array.from(images.flatMap((i) => Array.from(i))), [files.length, 32, 32, 3]);
  return { x, labels };
}

function argmaxRows(data: ArrayLike<number>, classes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length / classes; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (data[i * classes + k] > data[i * classes + best]) best = k;
    out.push(best);
  }
  return out;
}

test('the quantized folder: the source network unchanged, precision int8, ranges of every layer; loads back', async () => {
  assert.deepEqual((await fs.readdir(quantized)).sort(), [
    'group1-shard1of1.bin',
    'labels.json',
    'model-info.json',
    'model.json',
    'preprocessing.json',
    QUANTIZATION_JSON,
  ]);
  for (const name of ['group1-shard1of1.bin', 'model.json', 'labels.json', 'preprocessing.json']) {
    assert.ok(
      (await fs.readFile(path.join(quantized, name))).equals(await fs.readFile(path.join(SHIPPED, name))),
    );
  }
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(quantized, 'model-info.json'), 'utf8')), {
    model: 'googlenet-cifar',
    widthMultiplier: 0.5,
    precision: 'int8',
  });
  const { model, info } = await loadModelFolder(quantized);
  const q = info.quantization!;
  assert.equal(q.scheme, 'int8-minmax-v1');
  assert.deepEqual(q.calibration, { images: CALIBRATION, count: 100, source: SHIPPED });
  assert.equal(q.weightsSha256, weightsSha256(await fs.readFile(path.join(SHIPPED, 'group1-shard1of1.bin'))));
  // Every layer but the input layer, plus `input`; ReLU outputs start at 0, BN outputs go negative.
  assert.deepEqual(
    Object.keys(q.activations).sort(),
    ['input', ...model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name)].sort(),
  );
  assert.equal(q.activations.conv_1_3x3_1[0], 0);
  assert.ok(q.activations.conv_1_3x3_1_bn[0] < 0);
  assert.ok(q.activations.input[0] < -1.5 && q.activations.input[1] > 1.5, `${q.activations.input}`);
  // A float folder has no quantization.
  const float = await loadModelFolder(SHIPPED);
  assert.equal(float.info.quantization, undefined);
  float.model.dispose();
  model.dispose();
});

test('a quantized folder whose weights or ranges no longer fit is refused on load, naming quantization.json', async () => {
  const copy = path.join(work, 'tampered');
  await fs.cp(quantized, copy, { recursive: true });
  const bin = path.join(copy, 'group1-shard1of1.bin');
  const bytes = await fs.readFile(bin);
  bytes[100] ^= 1;
  await fs.writeFile(bin, bytes);
  await assert.rejects(loadModelFolder(copy), /quantization\.json: calibrated for other weights/);
  await fs.copyFile(path.join(quantized, 'group1-shard1of1.bin'), bin);
  const qFile = path.join(copy, QUANTIZATION_JSON);
  const q = JSON.parse(await fs.readFile(qFile, 'utf8'));
  await fs.writeFile(qFile, JSON.stringify({ ...q, activations: { ...q.activations, input: [1, -1] } }));
  await assert.rejects(loadModelFolder(copy), /quantization\.json: activations\.input must be \[min, max\]/);
  await fs.writeFile(qFile, JSON.stringify({ ...q, activations: { ...q.activations, nowhere: [0, 1] } }));
  await assert.rejects(loadModelFolder(copy), /activations name layer "nowhere"/);
  await fs.rm(qFile);
  await assert.rejects(loadModelFolder(copy), /quantization\.json: no such file/);
});

test('QDQ export: every conv reads Q/DQ activations, int8 per-channel weights (axis 0), int32 bias; BN folded; checker', async (t) => {
  const { model, info } = await loadModelFolder(quantized);
  const bytes = exportOnnxBytes(model, info, { int8Ranges: info.quantization!.activations });
  model.dispose();
  const proto = onnx.ModelProto.decode(bytes);
  const graph = proto.graph!;
  const producer = new Map(graph.node!.flatMap((n) => n.output!.map((o) => [o, n])));
  const inits = new Map(graph.initializer!.map((i) => [i.name!, i]));
  const T = onnx.TensorProto.DataType;
  const convs = graph.node!.filter((n) => n.opType === 'Conv');
  assert.equal(convs.length, 55);
  assert.equal(graph.node!.filter((n) => n.opType === 'BatchNormalization').length, 0, 'BN folded away');
  for (const conv of convs) {
    const [x, w, b] = conv.input!.map((name) => producer.get(name)!);
    assert.equal(x.opType, 'DequantizeLinear', `${conv.name} input`);
    assert.equal(producer.get(x.input![0])?.opType, 'QuantizeLinear', `${conv.name} input is Q then DQ`);
    assert.equal(w.opType, 'DequantizeLinear', `${conv.name} weights`);
    const wq = inits.get(w.input![0])!;
    assert.equal(wq.dataType, T.INT8);
    const outC = Number(wq.dims![0]);
    assert.deepEqual(
      inits.get(w.input![1])!.dims!.map(Number),
      [outC],
      'one weight scale per output channel',
    );
    assert.equal(Number(w.attribute!.find((a) => a.name === 'axis')?.i), 0);
    assert.equal(inits.get(b.input![0])!.dataType, T.INT32, `${conv.name} bias int32`);
    const xZero = inits.get(x.input![2])!;
    // The input of the first conv is the normalised image (negative values): s8; the others follow a ReLU: u8.
    assert.equal(
      xZero.dataType,
      conv.name === 'conv_1_3x3_1_conv' ? T.INT8 : T.UINT8,
      conv.name ?? undefined,
    );
  }
  // Branch outputs carry the scale of the concat they feed.
  const scaleOf = (dq: string) => {
    const s = inits.get(producer.get(dq)!.input![1])!;
    return new Float32Array(new Uint8Array(s.rawData!).buffer)[0];
  };
  const concat = graph.node!.find((n) => n.opType === 'Concat' && n.name === 'inception_3a')!;
  const scales = concat.input!.map(scaleOf);
  assert.ok(
    scales.every((s) => s === scales[0]),
    `${scales}`,
  );
  assert.equal(Number(proto.opsetImport![0].version), 13);
  const missing = onnxCheckerUnavailable();
  if (missing) t.diagnostic(`onnx.checker skipped: ${missing}`);
  else {
    const file = path.join(work, 'qdq.onnx');
    await fs.writeFile(file, bytes);
    assert.equal(onnxCheck(file), '');
  }
});

test('onnxruntime runs the QDQ export with int8 kernels and agrees with fp32 on the held-out images', {
  skip: ortMissing,
}, async (t) => {
  const file = path.join(work, 'cifar10-int8.onnx');
  const r = cli('export', '--model-dir', quantized, '--format', 'onnx', '--out', file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /int8 QDQ/);
  const { model } = await loadModelFolder(quantized);
  const { x, labels } = await heldoutImages();
  const fp32 = argmaxRows((model.predict(x) as tf.Tensor).dataSync(), 10);
  model.dispose();
  const optimized = path.join(work, 'optimized.onnx');
  const session = await ort!.InferenceSession.create(file, {
    graphOptimizationLevel: 'extended',
    optimizedModelFilePath: optimized,
  });
  const out = await session.run({
    [session.inputNames[0]]: new ort!.Tensor('float32', x.dataSync() as Float32Array, x.shape),
  });
  await session.release();
  const int8 = argmaxRows(out[session.outputNames[0]].data as Float32Array, 10);
  const agree = int8.filter((p, i) => p === fp32[i]).length;
  const right = (preds: number[]) => preds.filter((p, i) => p === labels[i]).length;
  t.diagnostic(
    `top-1 on 50 held-out images: fp32 ${right(fp32)}, int8 ${right(int8)}; same top-1 ${agree}/50`,
  );
  assert.ok(agree >= 48, `int8 and fp32 agree on ${agree} of 50`);
  assert.ok(right(int8) >= right(fp32) - 2);
  // The QDQ transformers turned every conv into an int8 QLinearConv (the form, not float convs on DQ values).
  const ops = onnx.ModelProto.decode(await fs.readFile(optimized)).graph!.node!.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === 'QLinearConv').length, 55, [...new Set(ops)].join(','));
  assert.equal(ops.filter((o) => o === 'Conv').length, 0);
  x.dispose();
});

test('a network without BN (conv bias + ReLU in the conv): its QDQ body on onnxruntime stays within 5% of fp32', {
  skip: ortMissing,
}, async (t) => {
  // The fixture's head is a random projection of standardised features that amplifies small differences
  // (it is built to spread top-1 classes, not to be robust), so the body's pooled features are compared.
  const source = await makeModelFolder();
  const out = path.join(work, 'googlenet-int8');
  try {
    await quantizeModelFolder(source, CALIBRATION, out, { calibrationImages: 40 });
    const { model, info } = await loadModelFolder(out);
    const body = tf.model({ inputs: model.inputs, outputs: model.getLayer('avg_pool_5_3x3_1').output });
    const { x } = await heldoutImages();
    const fp32 = (body.predict(x) as tf.Tensor).dataSync();
    const bytes = exportOnnxBytes(body, undefined, { int8Ranges: info.quantization!.activations });
    model.dispose();
    const session = await ort!.InferenceSession.create(bytes);
    const res = await session.run({
      [session.inputNames[0]]: new ort!.Tensor('float32', x.dataSync() as Float32Array, x.shape),
    });
    await session.release();
    const int8 = res[session.outputNames[0]].data as Float32Array;
    const scale = Math.max(...fp32.map(Math.abs));
    const diff = maxAbsDiff(int8, fp32);
    t.diagnostic(
      `untrained narrow googlenet: max |int8 - fp32| of the pooled features ${diff.toFixed(4)} (max |fp32| ${scale.toFixed(3)})`,
    );
    assert.ok(diff < 0.05 * scale, `${diff} vs ${scale}`);
    x.dispose();
  } finally {
    await fs.rm(source, { recursive: true, force: true });
  }
});

test('quantize CLI errors: one line, exit 2 for usage, 1 for bad folders; nothing written', async () => {
  const empty = path.join(work, 'no-images');
  await fs.mkdir(path.join(empty, 'cat'), { recursive: true });
  await fs.writeFile(path.join(empty, 'cat', 'notes.txt'), 'no images here');
  const out = path.join(work, 'never');
  const base = ['quantize', '--model', 'cifar10', '--out', out];
  assertCliError(cli('quantize', '--model', 'cifar10', '--out', out), 2, /--calibrate IMAGES is required/);
  assertCliError(
    cli(...base, '--calibrate', CALIBRATION, '--calibration-images', '0'),
    2,
    /--calibration-images must be an integer >= 1, got "0"/,
  );
  assertCliError(
    cli(...base, '--calibrate', path.join(work, 'missing')),
    1,
    /missing: no such calibration folder/,
  );
  assertCliError(cli(...base, '--calibrate', empty), 1, /no-images: no JPEG or PNG images to calibrate with/);
  assertCliError(
    cli(...base, '--calibrate', path.join(CALIBRATION, 'cat', '0000.jpg')),
    1,
    /0000\.jpg: not a folder/,
  );
  await assert.rejects(fs.stat(out), 'no output folder after a failed run');
  assertCliError(
    cli('quantize', '--model-dir', quantized, '--calibrate', CALIBRATION, '--out', path.join(work, 'twice')),
    1,
    /cifar10-int8: already quantized \(calibrated on 100 images of .*\); quantize its float source instead/,
  );
  assertCliError(
    cli('quantize', '--model-dir', quantized, '--calibrate', CALIBRATION, '--out', quantized),
    1,
    /is the source model folder/,
  );
  assertCliError(
    cli(
      'export',
      '--model',
      'cifar10',
      '--format',
      'onnx',
      '--precision',
      'int8',
      '--out',
      path.join(work, 'x.onnx'),
    ),
    2,
    /--precision int8 needs a quantized model folder/,
  );
  assertCliError(
    cli(
      'export',
      '--model-dir',
      quantized,
      '--format',
      'tfjs',
      '--precision',
      'int8',
      '--out',
      path.join(work, 'web'),
    ),
    2,
    /--precision applies to --format onnx/,
  );
});

test('quantizing into an existing model folder replaces it whole; a non-model folder is refused', async () => {
  const out = path.join(work, 'replace-me');
  await fs.cp(SHIPPED, out, { recursive: true });
  await quantizeModelFolder(SHIPPED, CALIBRATION, out, { calibrationImages: 20 });
  const { model, info } = await loadModelFolder(out);
  assert.equal(info.quantization?.calibration.count, 20);
  model.dispose();
  const other = path.join(work, 'other');
  await fs.mkdir(other);
  await fs.writeFile(path.join(other, 'keep.txt'), 'mine');
  await assert.rejects(
    quantizeModelFolder(SHIPPED, CALIBRATION, other, { calibrationImages: 5 }),
    /other: exists and is not a model folder/,
  );
  assert.deepEqual(await fs.readdir(other), ['keep.txt']);
});

test('calibration: a layer giving NaN is an error naming the layer; ranges are min/max over every image', async () => {
  const input = tf.input({ shape: [32, 32, 3], name: 'input' });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'conv', useBias: false }).apply(input);
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(conv) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: bn });
  const files = (await calibrationImages(CALIBRATION, 6)).slice(0, 6);
  model.getLayer('conv').setWeights([tf.ones([1, 1, 3, 2])]);
  const ranges = await calibrateRanges(model, FIXTURE_PREPROCESSING, files);
  // conv with all-ones 1x1 weights sums the channels: its range is that of the per-pixel channel sum.
  const images = await Promise.all(files.map((f) => decodeImage(f, FIXTURE_PREPROCESSING)));
  let lo = Infinity;
  let hi = -Infinity;
  for (const img of images) {
    for (let i = 0; i < img.length; i += 3) {
      const s = Math.fround(Math.fround(img[i] + img[i + 1]) + img[i + 2]);
      lo = Math.min(lo, s);
      hi = Math.max(hi, s);
    }
  }
  assert.ok(
    Math.abs(ranges.conv[0] - lo) < 1e-5 && Math.abs(ranges.conv[1] - hi) < 1e-5,
    `${ranges.conv} vs ${lo},${hi}`,
  );
  assert.deepEqual(Object.keys(ranges), ['input', 'conv', 'bn']);
  const bnLayer = model.getLayer('bn');
  const [gamma, beta, mean] = bnLayer.getWeights();
  bnLayer.setWeights([gamma, beta, mean, tf.tensor1d([-4, 1])]);
  await assert.rejects(
    calibrateRanges(model, FIXTURE_PREPROCESSING, files),
    /calibration: bn holds NaN or Infinity on the batch starting at .*\.jpg/,
  );
  model.dispose();
});

test('folderPrecision: int8 with the ranges for a quantized folder where the engine has it, fp32 otherwise', async () => {
  const { model, info } = await loadModelFolder(quantized);
  model.dispose();
  const notices: string[] = [];
  const defaulted = folderPrecision(info, undefined, (line) => notices.push(line));
  const why = precisionUnavailable('int8');
  if (why) {
    // No int8 planned path on this engine: the float network runs, and says so.
    assert.deepEqual(defaulted, { precision: 'fp32' });
    assert.equal(notices.length, 1);
    assert.match(
      notices[0],
      /running the quantized googlenet-cifar in fp32: int8 needs the native oneDNN engine/,
    );
  } else {
    assert.deepEqual(defaulted, { precision: 'int8', ranges: info.quantization!.activations });
    assert.deepEqual(notices, []);
  }
  assert.deepEqual(folderPrecision(info, 'int8'), {
    precision: 'int8',
    ranges: info.quantization!.activations,
  });
  assert.deepEqual(folderPrecision(info, 'fp32'), { precision: 'fp32' });
  const { quantization: _, ...float } = info;
  assert.deepEqual(folderPrecision(float), { precision: 'fp32' });
  assert.throws(() => folderPrecision(float, 'int8'), /int8 needs a quantized model folder/);
});

test("evaluate runs a quantized folder at int8 by default (the report of --precision int8, not fp32's)", async (t) => {
  const why = precisionUnavailable('int8');
  if (why) {
    t.skip(`no int8 planned path on this engine: ${why}`);
    return;
  }
  const report = (...extra: string[]) => {
    const r = cli('evaluate', '--model-dir', quantized, '--data', HELDOUT, '--json', ...extra);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { loss: number; accuracy: number };
  };
  const byDefault = report();
  const int8 = report('--precision', 'int8');
  const fp32 = report('--precision', 'fp32');
  t.diagnostic(`loss: default ${byDefault.loss}, int8 ${int8.loss}, fp32 ${fp32.loss}`);
  assert.equal(byDefault.loss, int8.loss);
  assert.notEqual(int8.loss, fp32.loss);
});
