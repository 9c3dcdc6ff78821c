import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady, compileWithAuxLosses, googlenetTorchvision, inferenceModel, tf } from '../src/index';
import { readPth } from '../src/weights/pth';
import { float16Value } from '../src/weights/state_dict';
import {
  loadTorchvisionGoogLeNetWeights,
  setTorchvisionGoogLeNetWeights,
} from '../src/weights/torchvision_googlenet';
import { legacyHeader, osSystemPickle, type TensorSpec, torchZip, zipArchive } from './support/torch_file';

const ROOT = path.join(__dirname, '..', '..');
const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(ROOT, 'test', 'support', 'torchvision_googlenet.py');

function torchUnavailable(): string | false {
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not runnable (${r.error.message})`;
  return r.status === 0 ? false : `${PYTHON} lacks torch/torchvision (apt install python3-torchvision)`;
}
const skipTorch = torchUnavailable();
if (skipTorch) console.log(`# skipping the torchvision reference tests: ${skipTorch}`);

const dir = mkdtempSync(path.join(tmpdir(), 'tv-googlenet-'));
let manifest: any;

before(async () => {
  await backendReady;
  if (skipTorch) return;
  const r = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${SCRIPT} failed: ${r.stderr}`);
  manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string) => path.join(dir, name);

/** A reference array written by the Python script (float32, torch's NCHW for images). */
function reference(entry: { file: string; shape: number[] }): tf.Tensor {
  const b = readFileSync(file(entry.file));
  return tf.tensor(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)), entry.shape);
}
const nhwc = (entry: { file: string; shape: number[] }) =>
  tf.tidy(() => tf.transpose(reference(entry), [0, 2, 3, 1]));

/** max |actual - expected| <= 1e-4 * max |expected| (float32 through 60 layers), and the outputs are not ~0. */
function assertMatches(actual: tf.Tensor, expected: tf.Tensor, label: string) {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < e.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - e[i]));
    scale = Math.max(scale, Math.abs(e[i]));
  }
  assert.ok(scale > 0.5, `${label}: reference outputs too small to compare (${scale})`);
  assert.ok(
    diff <= 1e-4 * scale,
    `${label}: max difference ${diff.toExponential(2)} at scale ${scale.toFixed(3)}`,
  );
}

const weightCount = (weights: tf.LayerVariable[]) =>
  weights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);

test('googlenet-torchvision has torchvision parameters() counts: 6,624,904 trainable, 13,004,888 with aux', () => {
  const model = googlenetTorchvision();
  // torchvision's num_params counts parameters() (conv, BN weight/bias, fc); the BN running mean/variance
  // are buffers there and non-trainable weights here.
  assert.equal(weightCount(model.trainableWeights), 6_624_904);
  assert.equal(weightCount(model.nonTrainableWeights), 14_560);
  assert.deepEqual(model.outputs[0].shape, [null, 1000]);
  const training = googlenetTorchvision({ auxLogits: true });
  assert.equal(weightCount(training.trainableWeights), 13_004_888);
  assert.equal(weightCount(training.nonTrainableWeights), 15_072);
  assert.deepEqual(training.outputNames, ['fc', 'aux_1_output', 'aux_2_output']);
  const single = inferenceModel(training);
  assert.equal(weightCount(single.trainableWeights), 6_624_904);
  const noTop = googlenetTorchvision({ includeTop: false });
  assert.deepEqual(noTop.outputs[0].shape, [null, 7, 7, 1024]);
  assert.equal(weightCount(noTop.trainableWeights), 6_624_904 - 1024 * 1000 - 1000);
  const avg = googlenetTorchvision({ includeTop: false, pooling: 'avg' });
  assert.deepEqual(avg.outputs[0].shape, [null, 1024]);
  assert.equal(avg.layers.at(-1)!.getClassName(), 'GlobalAveragePooling2D');
  const max = googlenetTorchvision({ includeTop: false, pooling: 'max' });
  assert.equal(max.layers.at(-1)!.getClassName(), 'GlobalMaxPooling2D');
  for (const m of [model, training, noTop, avg, max]) m.dispose();
});

test('googlenet-torchvision rejects bad options with the value', () => {
  assert.throws(
    () => googlenetTorchvision({ includeTop: false, pooling: 'sum' as any }),
    /pooling must be 'avg', 'max' or undefined, got "sum"/,
  );
  assert.throws(
    () => googlenetTorchvision({ includeTop: false, auxLogits: true }),
    /auxLogits needs includeTop/,
  );
  assert.throws(() => googlenetTorchvision({ inputShape: [14, 14, 3] }), /at least 15/);
  assert.throws(
    () => googlenetTorchvision({ inputShape: [64, 64, 1], transformInput: true }),
    /transformInput needs 3 input channels, got 1/,
  );
});

test('googlenet-torchvision with its own layers (transform_input, aux pools) round-trips through model JSON', async () => {
  const model = googlenetTorchvision({
    inputShape: [64, 64, 3],
    numClasses: 5,
    widthMultiplier: 0.25,
    transformInput: true,
    auxLogits: true,
    seed: 11,
  });
  const loaded = await tf.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as any });
  loaded.setWeights(model.getWeights());
  assert.deepEqual(
    loaded.layers.map((l) => `${l.name}:${l.getClassName()}`),
    model.layers.map((l) => `${l.name}:${l.getClassName()}`),
  );
  const x = tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 1);
  const expected = model.predict(x) as tf.Tensor[];
  const got = loaded.predict(x) as tf.Tensor[];
  for (const [i, e] of expected.entries()) assert.deepEqual(got[i].dataSync(), e.dataSync());
  tf.dispose([x, ...expected, ...got]);
  model.dispose();
  loaded.dispose();
});

test('the aux training model trains with compileWithAuxLosses (gradients through the adaptive pools)', async () => {
  const model = googlenetTorchvision({
    inputShape: [64, 64, 3],
    numClasses: 3,
    widthMultiplier: 0.25,
    auxLogits: true,
    seed: 2,
  });
  compileWithAuxLosses(model, { optimizer: tf.train.sgd(0.01) });
  const convBefore = model.getLayer('aux1_conv_conv').getWeights()[0].dataSync().slice();
  const x = tf.randomNormal([4, 64, 64, 3], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3);
  const history = await model.fit(x, [y, y, y], { epochs: 1, batchSize: 4, verbose: 0 });
  assert.ok(Number.isFinite(history.history.loss[0] as number));
  // The aux head's convolution sits behind AdaptiveAveragePooling2D's backward pass: it learned.
  assert.notDeepEqual(model.getLayer('aux1_conv_conv').getWeights()[0].dataSync(), convBefore);
  tf.dispose([x, y]);
  model.dispose();
});

/** A float32 tensor spec over `values`, stored as given. */
function spec(
  name: string,
  values: ArrayBufferView,
  storageType: string,
  shape: number[],
  stride: number[],
  offset = 0,
  numel?: number,
): TensorSpec {
  const length = (values as unknown as ArrayLike<number>).length;
  return { name, storageType, storage: values, numel: numel ?? length, shape, stride, offset };
}

test('readPth: strided views, storage offsets and every state_dict dtype, stored or deflated', () => {
  const storage = Float32Array.from({ length: 10 }, (_, i) => i);
  const tensors = [
    // A transposed 2x3 view at offset 1: rows of [1, 3, 5], [2, 4, 6].
    spec('transposed', storage, 'FloatStorage', [2, 3], [1, 2], 1),
    spec('contiguous', storage, 'FloatStorage', [2, 2], [2, 1], 6),
    spec('double', Float64Array.from([0.5, -2.25]), 'DoubleStorage', [2], [1]),
    spec('half', Uint16Array.from([0x3c00, 0xc000, 0x3555]), 'HalfStorage', [3], [1]),
    spec('bfloat16', Uint16Array.from([0x3f80, 0xc040]), 'BFloat16Storage', [2], [1]),
    spec('long', BigInt64Array.from([5n, -7n]), 'LongStorage', [2], [1]),
    spec('flag', Uint8Array.from([1, 0]), 'BoolStorage', [2], [1]),
    spec('scalar', Int32Array.from([42]), 'IntStorage', [], []),
  ];
  for (const deflate of [false, true]) {
    const pth = file(`synthetic-${deflate}.pth`);
    writeFileSync(pth, torchZip(tensors, { deflate }));
    const state = readPth(pth);
    assert.deepEqual(
      [...state.keys()],
      tensors.map((t) => t.name),
    );
    assert.deepEqual([...state.get('transposed')!.data], [1, 3, 5, 2, 4, 6]);
    assert.deepEqual(state.get('transposed')!.shape, [2, 3]);
    assert.deepEqual([...state.get('contiguous')!.data], [6, 7, 8, 9]);
    assert.deepEqual(state.get('double')!, {
      name: 'double',
      shape: [2],
      dtype: 'float64',
      data: Float64Array.from([0.5, -2.25]),
    });
    const half = state.get('half')!;
    assert.equal(half.dtype, 'float16');
    const halves = [...(half.data as Uint16Array)].map(float16Value);
    assert.deepEqual(halves.slice(0, 2), [1, -2]);
    assert.ok(Math.abs(halves[2] - 1 / 3) < 1e-3, `half 0x3555 is ${halves[2]}`);
    assert.deepEqual(state.get('bfloat16')!, {
      name: 'bfloat16',
      shape: [2],
      dtype: 'float32',
      data: Float32Array.from([1, -3]),
    });
    assert.deepEqual([...(state.get('long')!.data as BigInt64Array)], [5n, -7n]);
    assert.equal(state.get('flag')!.dtype, 'bool');
    assert.deepEqual([...state.get('flag')!.data], [1, 0]);
    assert.deepEqual(state.get('scalar')!, {
      name: 'scalar',
      shape: [],
      dtype: 'int32',
      data: Int32Array.from([42]),
    });
  }
});

test('readPth refuses, without executing, a pickle that names os.system (zip and legacy format)', () => {
  const marker = file('executed');
  const hostile = osSystemPickle(`touch ${marker}`);
  const zip = file('hostile.pth');
  writeFileSync(zip, zipArchive([['archive/data.pkl', hostile]]));
  assert.throws(
    () => readPth(zip),
    (e: Error) => {
      assert.match(e.message, /hostile\.pth \(archive\/data\.pkl\): refused global os\.system/);
      assert.match(e.message, /GLOBAL .* at byte 2/);
      assert.equal(e.message.split('\n').length, 1);
      return true;
    },
  );
  const legacy = file('hostile-legacy.pth');
  writeFileSync(legacy, Buffer.concat([legacyHeader(), hostile]));
  assert.throws(() => readPth(legacy), /hostile-legacy\.pth \(legacy format\): refused global os\.system/);
  assert.equal(existsSync(marker), false);
});

test('readPth refuses opcodes and calls a state_dict does not need', () => {
  const pickled = (...bytes: number[]) => {
    const f = file('opcode.pth');
    writeFileSync(f, zipArchive([['archive/data.pkl', Buffer.from([0x80, 0x02, ...bytes, 0x2e])]]));
    return f;
  };
  // INST (protocol 0's import-and-call) and NEWOBJ (cls.__new__) are outside what a state_dict uses.
  assert.throws(
    () => readPth(pickled(0x28, ...Buffer.from('ios\nsystem\n'))),
    /opcode\.pth \(archive\/data\.pkl\): pickle opcode INST \(0x69 'i'\) at byte 3 is not allowed in a weights file; nothing was executed$/,
  );
  assert.throws(() => readPth(pickled(0x29, 0x29, 0x81)), /opcode NEWOBJ \(0x81\)/);
  // REDUCE on an allowed global that is not a constructor (a storage class) is refused too.
  assert.throws(
    () => readPth(pickled(...Buffer.from('ctorch\nFloatStorage\n'), 0x29, 0x52)),
    /refused to call global torch\.FloatStorage/,
  );
  // A list at the top is not a state_dict.
  assert.throws(() => readPth(pickled(0x5d)), /opcode\.pth: not a state_dict \(the file holds a list/);
});

test('readPth: a zip that is not a torch file, a truncated zip, corrupt data, something else entirely', () => {
  const notTorch = file('notes.zip');
  writeFileSync(notTorch, zipArchive([['notes/hello.txt', Buffer.from('hello')]]));
  assert.throws(() => readPth(notTorch), /notes\.zip: a zip archive but not a PyTorch file/);
  const whole = torchZip([spec('w', Float32Array.from([1, 2, 3, 4]), 'FloatStorage', [4], [1])]);
  const truncated = file('truncated.pth');
  writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length * 0.6)));
  assert.throws(() => readPth(truncated), /truncated\.pth: truncated zip archive/);
  const corrupt = Buffer.from(whole);
  corrupt[corrupt.indexOf(Buffer.from(Float32Array.from([1, 2, 3, 4]).buffer))] ^= 0xff;
  writeFileSync(file('corrupt.pth'), corrupt);
  assert.throws(
    () => readPth(file('corrupt.pth')),
    /corrupt\.pth: zip member archive\/data\/0 fails its CRC-32 check/,
  );
  writeFileSync(file('text.pth'), 'not a tensor file at all');
  assert.throws(() => readPth(file('text.pth')), /text\.pth: not a PyTorch file/);
  assert.throws(() => readPth(file('absent.pth')), /absent\.pth: cannot read \(ENOENT\)/);
  // A view that claims more elements than its storage holds.
  writeFileSync(
    file('overrun.pth'),
    torchZip([spec('w', Float32Array.from([1, 2]), 'FloatStorage', [3], [1])]),
  );
  assert.throws(
    () => readPth(file('overrun.pth')),
    /overrun\.pth: tensor w \(shape \[3\]\) reads past the end of its storage 0/,
  );
});

test('torchvision state_dict (zip, aux heads) into googlenet-torchvision: outputs equal torch within 1e-4', {
  skip: skipTorch,
}, async () => {
  const ref = manifest.aux;
  const model = googlenetTorchvision({ auxLogits: true, classifierActivation: 'linear' });
  const lines: string[] = [];
  await loadTorchvisionGoogLeNetWeights(model, file(ref.pth), { print: (l) => lines.push(l) });
  // Every weight of the model was set and the only keys not used are BN's num_batches_tracked (one per BN
  // layer): the layer names are the state_dict keys, one to one.
  const bnLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
  assert.deepEqual(lines, [
    `${file(ref.pth)}: set ${model.weights.length} tensors of googlenet_torchvision_training (${bnLayers} keys not used)`,
  ]);
  const x = nhwc(ref.input);
  const [logits, aux1, aux2] = model.predict(x) as tf.Tensor[];
  assertMatches(logits, reference(ref.logits), 'logits');
  assertMatches(aux1, reference(ref.aux1), 'aux1');
  assertMatches(aux2, reference(ref.aux2), 'aux2');
  // Two different images, two different predictions: the weights reached the output.
  assert.notDeepEqual(logits.argMax(1).arraySync(), [0, 0]);
  // The single-output model shares the weights.
  assertMatches(
    inferenceModel(model).predict(x) as tf.Tensor,
    reference(ref.logits),
    'inferenceModel logits',
  );
  tf.dispose([x, logits, aux1, aux2]);
  model.dispose();
});

test('the same file without aux heads, without top (features) and with 10 classes (body only)', {
  skip: skipTorch,
}, async () => {
  const ref = manifest.aux;
  const features = googlenetTorchvision({ includeTop: false, pooling: 'avg' });
  await loadTorchvisionGoogLeNetWeights(features, file(ref.pth));
  const x = nhwc(ref.input);
  assertMatches(features.predict(x) as tf.Tensor, reference(ref.features), 'features');
  const tenClasses = googlenetTorchvision({ numClasses: 10, seed: 7 });
  const fcBefore = tenClasses.getLayer('fc').getWeights()[0].dataSync().slice();
  const lines: string[] = [];
  await loadTorchvisionGoogLeNetWeights(tenClasses, file(ref.pth), { print: (l) => lines.push(l) });
  assert.match(lines[0], /left as initialised: fc \(1000 classes in the file, 10 in the model\)/);
  assert.deepEqual(tenClasses.getLayer('fc').getWeights()[0].dataSync(), fcBefore);
  assert.deepEqual(
    tenClasses.getLayer('conv3_conv').getWeights()[0].dataSync(),
    features.getLayer('conv3_conv').getWeights()[0].dataSync(),
  );
  tf.dispose(x);
  features.dispose();
  tenClasses.dispose();
});

test('legacy-format file with strided tensors, transform_input, a 97x112 input: equal on onednn and cpu', {
  skip: skipTorch,
}, async () => {
  const ref = manifest.legacy;
  const model = googlenetTorchvision({
    inputShape: [97, 112, 3],
    numClasses: 10,
    transformInput: true,
    classifierActivation: 'linear',
  });
  await loadTorchvisionGoogLeNetWeights(model, file(ref.pth));
  const x = nhwc(ref.input);
  const previous = tf.getBackend();
  for (const backend of ['onednn', 'cpu']) {
    if (!tf.findBackend(backend)) continue;
    tf.setBackend(backend);
    assertMatches(model.predict(x) as tf.Tensor, reference(ref.logits), `legacy logits on ${backend}`);
  }
  tf.setBackend(previous);
  tf.dispose(x);
  model.dispose();
});

test('wrong files: another architecture, wrong shapes, a whole module, a checkpoint, a cut file, a NaN', {
  skip: skipTorch,
}, async () => {
  const model = googlenetTorchvision({ numClasses: 10 });
  await assert.rejects(
    loadTorchvisionGoogLeNetWeights(model, file('resnet18.pth')),
    /resnet18\.pth: not a torchvision GoogLeNet state_dict for googlenet_torchvision: missing key conv1\.conv\.weight \(layer conv1_conv\) \(and 284 more\); unexpected key conv1\.weight \(and 99 more\)$/,
  );
  await assert.rejects(
    loadTorchvisionGoogLeNetWeights(
      googlenetTorchvision({ widthMultiplier: 0.5, numClasses: 10 }),
      file(manifest.legacy.pth),
    ),
    /googlenet_legacy\.pth: key conv1\.conv\.weight has shape \[64, 3, 7, 7\], layer conv1_conv needs \[32, 3, 7, 7\] \(torch layout\)/,
  );
  await assert.rejects(
    loadTorchvisionGoogLeNetWeights(model, file('whole_module.pth')),
    /refused global torch\.nn\.modules\.linear\.Linear/,
  );
  await assert.rejects(
    loadTorchvisionGoogLeNetWeights(model, file('checkpoint.pth')),
    /checkpoint\.pth: not a state_dict \(entry epoch is number, not a tensor/,
  );
  const whole = readFileSync(file(manifest.legacy.pth));
  writeFileSync(file('cut.pth'), whole.subarray(0, whole.length - 1000));
  await assert.rejects(
    loadTorchvisionGoogLeNetWeights(model, file('cut.pth')),
    /cut\.pth: truncated file \(storage \d+ ends past the end of the file\)/,
  );

  // A file whose last tensor does not fit sets nothing, not even the tensors before it.
  const state = readPth(file(manifest.legacy.pth));
  const before = model.getLayer('conv1_conv').getWeights()[0].dataSync().slice();
  const fc = state.get('fc.weight')!;
  state.set('fc.weight', { ...fc, shape: [10, 1023], data: (fc.data as Float32Array).slice(0, 10230) });
  assert.throws(
    () => setTorchvisionGoogLeNetWeights(model, state, 'edited.pth'),
    /edited\.pth: key fc\.weight has shape \[10, 1023\], layer fc needs \[10, 1024\]/,
  );
  assert.deepEqual(model.getLayer('conv1_conv').getWeights()[0].dataSync(), before);
  state.set('fc.weight', fc);
  const mean = state.get('inception4b.branch1.bn.running_mean')!;
  (mean.data as Float32Array)[3] = Number.NaN;
  assert.throws(
    () => setTorchvisionGoogLeNetWeights(model, state, 'nan.pth'),
    /nan\.pth: key inception4b\.branch1\.bn\.running_mean holds a non-finite value \(NaN\) at element 3/,
  );
  assert.deepEqual(model.getLayer('conv1_conv').getWeights()[0].dataSync(), before);
  model.dispose();
});
