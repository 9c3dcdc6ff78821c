// The weights registry and loadWeights/weightsMeta/createModel: the builders' registry and the weights
// registry agree (a test walks both), every entry describes itself (hash, labels, preprocessing, the
// source's numbers), and every kind of spec resolves or fails with one clear line. Nothing here touches the
// real URLs: registry downloads go to a local server.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import { preprocessingProblem } from '../src/io/model_folder';
import { googlenetCifar } from '../src/models/googlenet_cifar';
import { PRETRAINED, pretrainedFolder } from '../src/models/pretrained';
import { buildModel, MODEL_BUILDERS } from '../src/models/registry';
import { weightsFixedArgs } from '../src/training/weights_architecture';
import { createModel } from '../src/weights/create_model';
import { weightsCacheDir } from '../src/weights/download';
import { loadWeights, weightsMeta } from '../src/weights/load';
import { BUILDER_FILE_FORMATS, findWeights, WEIGHTS, weightsFor } from '../src/weights/registry';

/** Asserts that `builder` is in MODEL_BUILDERS. */
function assertBuilder(builder: string): void {
  assert.ok(
    Object.hasOwn(MODEL_BUILDERS, builder),
    `weights name builder ${builder}, which MODEL_BUILDERS lacks`,
  );
}

test('every builder the weights registry names is a builder, and every file format has its builder', () => {
  const named = new Set([...WEIGHTS.map((w) => w.builder), ...Object.keys(BUILDER_FILE_FORMATS)]);
  for (const builder of named) assertBuilder(builder);
  // Each format is read into exactly one builder.
  const formats = Object.values(BUILDER_FILE_FORMATS);
  assert.equal(new Set(formats).size, formats.length);
  // Each builder's names are unique.
  for (const builder of named) {
    const names = weightsFor(builder).map((w) => w.name);
    assert.equal(new Set(names).size, names.length, builder);
  }
  // Every shipped model is in the registry under its builder.
  for (const [name, p] of Object.entries(PRETRAINED))
    assert.equal(findWeights(p.builder, name)?.kind, 'shipped');
});

test('published entries describe themselves: URL, file, published hash, labels, preprocessing, metrics', () => {
  const published = WEIGHTS.filter((w) => w.kind === 'published');
  assert.deepEqual(
    published.map((w) => `${w.builder}/${w.name}`),
    ['googlenet-torchvision/imagenet', 'inception-v3/imagenet', 'googlenet-paper/imagenet'],
  );
  for (const w of published) {
    const where = `${w.builder}/${w.name}`;
    assert.equal(w.format, BUILDER_FILE_FORMATS[w.builder], where);
    assert.equal(w.files.filter((f) => f.includeTop).length, 1, where);
    for (const f of w.files) {
      assert.match(f.url, /^https:\/\//, where);
      assert.equal(path.posix.basename(f.url), f.file, where);
      assert.ok(f.file.endsWith(`.${w.format}`), where);
      const digits = f.hash.algorithm === 'sha256' ? 64 : 32;
      assert.match(f.hash.hex, f.hash.prefix ? /^[0-9a-f]{8}$/ : new RegExp(`^[0-9a-f]{${digits}}$`), where);
    }
    const { meta } = w;
    assert.equal(meta.categories.length, meta.numClasses, where);
    assert.equal(meta.numClasses, w.args.numClasses, where);
    assert.deepEqual(meta.preprocessing.inputShape, w.args.inputShape, where);
    assert.equal(preprocessingProblem(meta.preprocessing), null, where);
    assert.ok(
      meta.metrics.top1 > 50 && meta.metrics.top1 < meta.metrics.top5 && meta.metrics.top5 < 100,
      where,
    );
    for (const link of [meta.metrics.reportedBy, meta.source]) assert.match(link, /^https:\/\//, where);
  }
  // torch.hub's convention: the file name carries the start of the file's SHA-256.
  const tv = findWeights('googlenet-torchvision', 'imagenet');
  assert.ok(tv?.kind === 'published');
  assert.deepEqual(tv.files[0].hash, { algorithm: 'sha256', hex: '1378be20', prefix: true });
  assert.equal(tv.meta.preprocessing.cropFraction, 224 / 256);
  assert.equal(tv.meta.categories[0], 'tench');
  assert.equal(tv.meta.categories[999], 'toilet tissue');
  const keras = findWeights('inception-v3', 'imagenet');
  assert.ok(keras?.kind === 'published');
  assert.deepEqual(
    keras.files.map((f) => [f.includeTop, f.hash.algorithm]),
    [
      [true, 'md5'],
      [false, 'md5'],
    ],
  );
});

test('each published entry fits its builder: output classes and parameter count as the source says', async () => {
  for (const w of WEIGHTS) {
    if (w.kind !== 'published') continue;
    assertBuilder(w.builder);
    const model = buildModel(w.builder, { ...w.args, seed: 1 });
    try {
      assert.deepEqual(model.outputs[0].shape, [null, w.meta.numClasses], w.builder);
      assert.deepEqual(model.inputs[0].shape.slice(1), w.args.inputShape, w.builder);
      // torchvision counts parameters() (our trainable weights); Keras and the ONNX zoo count every weight.
      const trainable = model.trainableWeights.reduce((n, v) => n + v.read().size, 0);
      const counted = w.builder === 'googlenet-torchvision' ? trainable : model.countParams();
      assert.equal(counted, w.meta.numParams, w.builder);
    } finally {
      model.dispose();
    }
  }
});

test('weightsMeta: registry and shipped names and folders carry meta; a file carries none', async () => {
  const imagenet = weightsMeta('googlenet-paper', 'imagenet');
  assert.equal(imagenet?.numClasses, 1000);
  assert.match(imagenet?.source ?? '', /googlenet-12\.onnx$/);
  const shipped = weightsMeta('googlenet-cifar', 'cifar10');
  assert.equal(shipped?.categories.length, 10);
  assert.deepEqual(shipped?.preprocessing.inputShape, [32, 32, 3]);
  const folder = weightsMeta('googlenet-cifar', pretrainedFolder('cifar10'));
  assert.deepEqual(folder?.categories, shipped?.categories);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'inception-weights-'));
  const onnx = path.join(dir, 'mine.onnx');
  await fs.writeFile(onnx, 'not read by weightsMeta');
  assert.equal(weightsMeta('googlenet-paper', onnx), null);
});

test('bad specs: one line naming the name or file and what would fit', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'inception-weights-'));
  const h5 = path.join(dir, 'weights.h5');
  const txt = path.join(dir, 'weights.txt');
  await fs.writeFile(h5, 'x');
  await fs.writeFile(txt, 'x');
  const cases: [string, string, RegExp][] = [
    [
      'googlenet-paper',
      'imagenett',
      /^Error: unknown weights "imagenett" for googlenet-paper; names: imagenet; or a model folder, or a \.onnx file$/,
    ],
    [
      'googlenet',
      'imagenet',
      /^Error: unknown weights "imagenet" for googlenet; no named weights; or a model folder$/,
    ],
    ['googlenet', 'cifar10', /^Error: weights "cifar10" are for googlenet-cifar, not googlenet$/],
    [
      'googlenet-torchvision',
      h5,
      /weights\.h5: Keras HDF5 weights \(\.h5\) is read into inception-v3, not googlenet-torchvision \(which takes \.pth\)$/,
    ],
    ['googlenet-paper', txt, /weights\.txt: not a weights file \(\.pth, \.h5 or \.onnx\) or a model folder$/],
    ['googlenet-paper', path.join(dir, 'absent.onnx'), /absent\.onnx: no such file or folder$/],
  ];
  const model = googlenetCifar({ widthMultiplier: 0.125, inputShape: [32, 32, 3], numClasses: 2, seed: 1 });
  try {
    for (const [builder, spec, message] of cases) {
      assert.throws(() => weightsMeta(builder, spec), message, `${builder} ${spec}`);
      await assert.rejects(loadWeights(model, builder, spec), message, `${builder} ${spec}`);
    }
  } finally {
    model.dispose();
  }
});

test("a registry name downloads from the (overridden) URL and is checked against the source's hash", async () => {
  // A local server standing in for the zoo: the bytes are not the published file, so the SHA-256 fails.
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    res.end(Buffer.alloc(1000, 7));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cache = await fs.mkdtemp(path.join(os.tmpdir(), 'inception-cache-'));
  const model = buildModel('googlenet-paper', { numClasses: 1000, widthMultiplier: 0.125, seed: 1 });
  try {
    await assert.rejects(
      loadWeights(model, 'googlenet-paper', 'imagenet', {
        download: { cache, urlBase: base, progress: null },
      }),
      /googlenet-12\.onnx: checksum mismatch: sha256 is [0-9a-f]{64}, expected sha256 c99c5070/,
    );
    assert.deepEqual(requests, ['/googlenet-12.onnx']);
    assert.deepEqual(await fs.readdir(weightsCacheDir(cache)), []);
  } finally {
    model.dispose();
    server.close();
  }
});

/** Every weight of `a` equals `b`'s of the same name. */
function assertSameWeights(
  a: tf.LayersModel,
  b: tf.LayersModel,
  skip: (name: string) => boolean = () => false,
) {
  const theirs = new Map(b.weights.map((w) => [w.originalName, w]));
  for (const w of a.weights) {
    if (skip(w.originalName)) continue;
    const other = theirs.get(w.originalName);
    assert.ok(other, w.originalName);
    assert.deepEqual(w.read().dataSync(), other.read().dataSync(), w.originalName);
  }
}

test('createModel: the shipped cifar10 by name and as a folder equal googlenetCifar({ weights })', async () => {
  const reference = googlenetCifar({ weights: 'cifar10' });
  const byName = await createModel('googlenet-cifar', { weights: 'cifar10' });
  const byFolder = await createModel('googlenet-cifar', { weights: pretrainedFolder('cifar10') });
  try {
    assertSameWeights(byName.model, reference);
    assertSameWeights(byFolder.model, reference);
    assert.deepEqual(byName.meta?.categories, byFolder.meta?.categories);
    assert.equal(byName.meta?.source, 'cifar10');
  } finally {
    for (const m of [reference, byName.model, byFolder.model]) m.dispose();
  }
});

test('createModel with a new head: the body loads, the head stays as built and is reported', async () => {
  const reference = googlenetCifar({ weights: 'cifar10' });
  const lines: string[] = [];
  const { model } = await createModel(
    'googlenet-cifar',
    { weights: 'cifar10', numClasses: 3, seed: 5 },
    { print: (l) => lines.push(l) },
  );
  try {
    assert.deepEqual(model.outputs[0].shape, [null, 3]);
    assertSameWeights(model, reference, (name) => name.startsWith('output/'));
    assert.match(
      lines.join('\n'),
      /275 weights loaded; 2 left as initialised \(output\/kernel, output\/bias\)/,
    );
  } finally {
    model.dispose();
    reference.dispose();
  }
});

test('a model folder built with other arguments is refused layer by layer, not loaded into the wrong network', async () => {
  const dir = pretrainedFolder('cifar10');
  const { stemPool: _, ...withoutStemPool } = PRETRAINED.cifar10.args;
  const model = googlenetCifar({ ...withoutStemPool, seed: 1 });
  const before = model.weights[0].read().dataSync().slice();
  try {
    await assert.rejects(
      loadWeights(model, 'googlenet-cifar', dir),
      /cifar10: not the network googlenet-cifar built here: its layer \S+ outputs \[null,16,16,\d+\], not \[null,32,32,\d+\]/,
    );
    assert.deepEqual(model.weights[0].read().dataSync(), before);
    await assert.rejects(
      loadWeights(model, 'googlenet', dir),
      /cifar10: holds a googlenet-cifar model, not googlenet$/,
    );
  } finally {
    model.dispose();
  }
});

test("registry weights fix the network they need (torchvision's transform_input, the ONNX zoo's Caffe padding), for training and features too", () => {
  const tv = buildModel('googlenet-torchvision', {
    ...weightsFixedArgs('googlenet-torchvision', 'imagenet'),
    numClasses: 5,
    inputShape: [64, 64, 3],
  });
  const paper = buildModel('googlenet-paper', {
    ...weightsFixedArgs('googlenet-paper', 'imagenet'),
    numClasses: 5,
    inputShape: [64, 64, 3],
  });
  try {
    assert.ok(tv.layers.some((l) => l.name === 'transform_input'));
    assert.ok(paper.layers.some((l) => l.name === 'conv_1_7x7_2_pad'));
  } finally {
    tv.dispose();
    paper.dispose();
  }
  // A shipped model fixes its own arguments, and nothing for another builder.
  assert.deepEqual(weightsFixedArgs('googlenet', 'cifar10'), {});
  assert.equal(weightsFixedArgs('googlenet-cifar', 'cifar10').stemPool, true);
});
