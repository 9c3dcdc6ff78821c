// The CIFAR-10 model shipped in models/cifar10 (README "Shipped model"): it loads through the builder and
// the CLI, and classifies CIFAR images it never trained on (data/cifar10-heldout, cut from the validation
// split of the run that trained it by scripts/cut-cifar-heldout.js).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  evaluateModelFolder,
  googlenetCifar,
  loadModelFolder,
  predictImages,
  pretrainedFolder,
  type tf,
} from '../src/index';

const HELD_OUT = path.join(__dirname, '..', '..', 'data', 'cifar10-heldout');
const MAIN = path.join(__dirname, '..', 'src', 'cli', 'main.js');

async function heldOutImages(): Promise<{ file: string; label: string }[]> {
  const classes = (await fs.readdir(HELD_OUT)).sort();
  const lists = await Promise.all(
    classes.map(async (label) =>
      (await fs.readdir(path.join(HELD_OUT, label)))
        .sort()
        .map((f) => ({ file: path.join(HELD_OUT, label, f), label })),
    ),
  );
  return lists.flat();
}

test('the shipped model folder: float16 weights, CIFAR-10 labels, 32x32 preprocessing', async () => {
  const dir = pretrainedFolder('cifar10');
  const modelJson = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
  const specs = modelJson.weightsManifest.flatMap(
    (g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights,
  );
  assert.ok(specs.every((s: tf.io.WeightsManifestEntry) => s.quantization?.dtype === 'float16'));
  const { model, info } = await loadModelFolder(dir);
  assert.deepEqual(info.labels, (await fs.readdir(HELD_OUT)).sort());
  assert.deepEqual(info.preprocessing.inputShape, [32, 32, 3]);
  assert.equal(info.model, 'googlenet-cifar');
  assert.equal(model.countParams(), 1_482_570);
  model.dispose();
});

test("googlenetCifar({ weights: 'cifar10' }) classifies held-out CIFAR images (>= 80% of 50)", async () => {
  const images = await heldOutImages();
  assert.equal(images.length, 50);
  const { model: folderModel, info } = await loadModelFolder(pretrainedFolder('cifar10'));
  const model = googlenetCifar({ weights: 'cifar10' });
  const files = images.map((i) => i.file);
  const fromBuilder = await predictImages(model, info, files, 1);
  const fromFolder = await predictImages(folderModel, info, files, 1);
  const correct = fromBuilder.filter((p, i) => p.top[0].label === images[i].label).length;
  assert.ok(correct >= 40, `${correct} of 50 correct`);
  fromBuilder.forEach((p, i) => {
    assert.equal(p.top[0].label, fromFolder[i].top[0].label, files[i]);
    assert.ok(Math.abs(p.top[0].probability - fromFolder[i].top[0].probability) < 1e-5);
  });
  // Without the classifier: the body's weights, features of the last inception stage.
  const body = googlenetCifar({ weights: 'cifar10', includeTop: false, pooling: 'avg' });
  assert.deepEqual(body.outputs[0].shape, [null, 512]);
  const named = (m: tf.LayersModel, layer: string) => m.getLayer(layer).getWeights()[0].dataSync();
  assert.deepEqual(named(body, 'inception_5b_1x1_conv'), named(model, 'inception_5b_1x1_conv'));
  for (const m of [model, folderModel, body]) m.dispose();
});

test('evaluate and predict take --model cifar10 (the shipped model) instead of --model-dir', async () => {
  const report = await evaluateModelFolder(pretrainedFolder('cifar10'), HELD_OUT);
  assert.equal(report.images, 50);
  assert.ok(report.accuracy >= 0.8, `accuracy ${report.accuracy}`);
  const [first] = await heldOutImages();
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  const r = run('predict', '--model', 'cifar10', '--json', first.file);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.predictions[0].top.length, 5);
  assert.equal(out.predictions[0].file, first.file);
  const bad = run('predict', '--model', 'imagenet', first.file);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--model "imagenet" is not a shipped model \(shipped: cifar10\)/);
  const both = run('predict', '--model', 'cifar10', '--model-dir', HELD_OUT, first.file);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /not both/);
});
