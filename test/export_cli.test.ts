import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { decodeImage } from '../src/data/decode';
import { SHARD_BYTES } from '../src/export/tfjs';
import {
  backendReady,
  googlenetPaper,
  inferenceModel,
  loadModelFolder,
  saveModelFolder,
  tf,
} from '../src/index';
import { CIFAR_SAMPLE, FIXTURE_PREPROCESSING, makeModelFolder } from './support/model_folder_fixture';
import { maxAbsDiff, onnxCheck, onnxCheckerUnavailable, runOnnx } from './support/onnx_runtime';

const MAIN = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
let modelDir: string;
let outDir: string;

before(async () => {
  await backendReady;
  modelDir = await makeModelFolder();
  outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'export-'));
});
after(async () => {
  await fs.rm(modelDir, { recursive: true });
  await fs.rm(outDir, { recursive: true });
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    env: { ...process.env, INCEPTION_BACKEND: 'cpu' },
    encoding: 'utf8',
  });
}

/** A static file server over `dir` (what a browser or CDN would do with the export). */
async function serveFolder(dir: string): Promise<{ url: string; close: () => void }> {
  const server = http.createServer(async (req, res) => {
    const file = path.join(dir, path.basename(new URL(req.url!, 'http://x').pathname));
    const body = await fs.readFile(file).catch(() => null);
    res.writeHead(body ? 200 : 404);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

async function realImages(): Promise<tf.Tensor4D> {
  const files = ['val/cat/0000.jpg', 'val/ship/0001.jpg', 'val/frog/0002.jpg'].map((f) =>
    path.join(CIFAR_SAMPLE, f),
  );
  const xs = await Promise.all(files.map((f) => decodeImage(f, FIXTURE_PREPROCESSING)));
  return tf.tensor4d(Float32Array.from(xs.flatMap((x) => Array.from(x))), [3, 32, 32, 3]);
}

test('inception export --format onnx: onnxruntime matches tfjs on real images; metadata; checker', async (t) => {
  const file = path.join(outDir, 'model.onnx');
  const r = cli('export', '--model-dir', modelDir, '--format', 'onnx', '--out', file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*model\.onnx/);
  const bytes = await fs.readFile(file);
  const { model, info } = await loadModelFolder(modelDir);
  const x = await realImages();
  const expected = (model.predict(x) as tf.Tensor).dataSync();
  const got = await runOnnx(bytes, x);
  const diff = maxAbsDiff(got.data, expected);
  t.diagnostic(`max |onnx - tfjs| on 3 CIFAR images: ${diff.toExponential(2)}`);
  assert.ok(diff < 1e-4);
  const meta = Object.fromEntries(onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key, p.value]));
  assert.deepEqual(JSON.parse(meta.labels), info.labels);
  const missing = onnxCheckerUnavailable();
  if (missing) t.diagnostic(`onnx.checker skipped: ${missing}`);
  else assert.equal(onnxCheck(file), '');
  model.dispose();
});

test('inception export --format tfjs: plain tf.loadLayersModel over HTTP gives the same outputs', async () => {
  const dir = path.join(outDir, 'web-model');
  const r = cli('export', '--model-dir', modelDir, '--format', 'tfjs', '--out', dir);
  assert.equal(r.status, 0, r.stderr);
  const names = (await fs.readdir(dir)).sort();
  assert.deepEqual(names, [
    'group1-shard1of1.bin',
    'labels.json',
    'model-info.json',
    'model.json',
    'preprocessing.json',
  ]);
  assert.deepEqual(
    JSON.parse(await fs.readFile(path.join(dir, 'preprocessing.json'), 'utf8')),
    FIXTURE_PREPROCESSING,
  );
  const served = await serveFolder(dir);
  try {
    const loaded = await tf.loadLayersModel(`${served.url}/model.json`);
    const { model } = await loadModelFolder(modelDir);
    const x = await realImages();
    assert.ok(
      maxAbsDiff((loaded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync()) <
        1e-6,
    );
    loaded.dispose();
    model.dispose();
  } finally {
    served.close();
  }
});

test('tfjs export of a model with LRN over 4 MiB: several shards, loadable once LRN is registered', async () => {
  const model = inferenceModel(
    googlenetPaper({ inputShape: [64, 64, 3], numClasses: 4, widthMultiplier: 0.5 }),
  );
  const dir = path.join(outDir, 'paper');
  const src = path.join(outDir, 'paper-folder');
  await saveModelFolder(src, model, {
    model: 'googlenet-paper',
    widthMultiplier: 0.5,
    labels: ['a', 'b', 'c', 'd'],
    preprocessing: { ...FIXTURE_PREPROCESSING, inputShape: [64, 64, 3] },
  });
  const r = cli('export', '--model-dir', src, '--format', 'tfjs', '--out', dir);
  assert.equal(r.status, 0, r.stderr);
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0];
  assert.ok(manifest.paths.length > 1, `${manifest.paths.length} shards`);
  for (const p of manifest.paths) assert.ok((await fs.stat(path.join(dir, p))).size <= SHARD_BYTES);
  assert.match(await fs.readFile(path.join(dir, 'model.json'), 'utf8'), /"class_name":"LRN"/);
  const served = await serveFolder(dir);
  try {
    const loaded = await tf.loadLayersModel(`${served.url}/model.json`);
    const x = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 3);
    assert.ok(
      maxAbsDiff((loaded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync()) <
        1e-6,
    );
  } finally {
    served.close();
  }
});

test('export flag errors: missing flag, bad format, missing folder', () => {
  const noOut = cli('export', '--model-dir', modelDir, '--format', 'onnx');
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /--out PATH is required/);
  const badFormat = cli('export', '--model-dir', modelDir, '--format', 'tflite', '--out', 'x');
  assert.equal(badFormat.status, 2);
  assert.match(badFormat.stderr, /--format must be one of onnx, tfjs, got "tflite"/);
  const missing = cli('export', '--model-dir', '/no/such/dir', '--format', 'onnx', '--out', 'x');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /\/no\/such\/dir: no such model folder/);
});
