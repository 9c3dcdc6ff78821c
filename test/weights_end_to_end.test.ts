// `--weights imagenet` and `--weights FILE` end to end, without the network: an ONNX file in the zoo
// GoogLeNet's exact form (seeded weights, test/support/onnx_zoo_googlenet.ts) read through the registry,
// the cache and the format loader, by the library and by `inception predict`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../src/models/registry';
import { createModel } from '../src/weights/create_model';
import { weightsCacheDir } from '../src/weights/download';
import { loadWeights } from '../src/weights/load';
import { ONNX_GOOGLENET_PREPROCESSING } from '../src/weights/onnx_googlenet';
import { findWeights, type PublishedWeights } from '../src/weights/registry';
import { zooGoogLeNetBytes } from './support/onnx_zoo_googlenet';

const MAIN = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
const IMAGE = path.join(__dirname, '..', '..', 'data', 'cifar10-heldout', 'cat', '0013.jpg');

const zoo = ((): PublishedWeights => {
  const entry = findWeights('googlenet-paper', 'imagenet');
  assert.ok(entry?.kind === 'published');
  return entry;
})();

/**
 * A cache holding the fixture under the zoo file's name with the sidecar a verified download writes: the
 * cheap check (size, mtime, published hash) then uses it without a request. Stands in for a finished
 * download of the real file, which no machine here can reach.
 */
async function cacheWithZooFile(bytes: Uint8Array): Promise<string> {
  const cache = await fs.mkdtemp(path.join(os.tmpdir(), 'inception-cache-'));
  const file = path.join(weightsCacheDir(cache), zoo.files[0].file);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes);
  const stat = await fs.stat(file);
  const sidecar = {
    url: zoo.files[0].url,
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    published: zoo.files[0].hash,
  };
  await fs.writeFile(`${file}.json`, JSON.stringify(sidecar));
  return cache;
}

test("the registry's ONNX-zoo preprocessing is the zoo loader's", () => {
  const { inputShape, mean, std } = ONNX_GOOGLENET_PREPROCESSING;
  assert.deepEqual(zoo.meta.preprocessing, { inputShape, mean, std, resize: 'fill' });
});

test("loadWeights('imagenet') from the cache, and the same file by path, give the same network", async () => {
  const bytes = zooGoogLeNetBytes({ opset: 12, seed: 3 });
  const cache = await cacheWithZooFile(bytes);
  const fromRegistry = await createModel(
    'googlenet-paper',
    { weights: 'imagenet' },
    { download: { cache, offline: true }, print: () => {} },
  );
  const file = path.join(cache, 'copy.onnx');
  await fs.writeFile(file, bytes);
  const model = buildModel('googlenet-paper', { ...zoo.args });
  try {
    const meta = await loadWeights(model, 'googlenet-paper', file, { print: () => {} });
    assert.equal(meta, null);
    assert.equal(fromRegistry.meta?.categories[0], 'tench');
    assert.equal(fromRegistry.meta?.source, zoo.files[0].url);
    const x = tf.randomUniform([1, 224, 224, 3], -100, 100, 'float32', 5);
    const [a, b] = [fromRegistry.model.predict(x), model.predict(x)] as tf.Tensor[];
    assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] === 0);
    // The loader set the weights: not the builder's initialisation.
    const fresh = buildModel('googlenet-paper', { ...zoo.args, seed: 1 });
    assert.ok(tf.max(tf.abs(tf.sub(fresh.predict(x) as tf.Tensor, a))).dataSync()[0] > 1e-4);
    tf.dispose([x, a, b]);
    fresh.dispose();
  } finally {
    model.dispose();
    fromRegistry.model.dispose();
  }
});

test('inception predict --model googlenet-paper --weights imagenet | FILE prints ImageNet labels', async () => {
  const bytes = zooGoogLeNetBytes({ opset: 12, seed: 3 });
  const cache = await cacheWithZooFile(bytes);
  const file = path.join(cache, 'mine.onnx');
  await fs.writeFile(file, bytes);
  const predict = (weights: string) => {
    const run = spawnSync(
      process.execPath,
      [MAIN, 'predict', '--json', '--top', '3', '--model', 'googlenet-paper', '--weights', weights, IMAGE],
      { env: { ...process.env, INCEPTION_HOME: cache, INCEPTION_OFFLINE: '1' }, encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    return {
      stderr: run.stderr,
      top: JSON.parse(run.stdout).predictions[0].top as { label: string; probability: number }[],
    };
  };
  const byName = predict('imagenet');
  const byFile = predict(file);
  assert.match(byFile.stderr, /mine\.onnx: labels and preprocessing from googlenet-paper's imagenet weights/);
  assert.equal(byName.top.length, 3);
  byName.top.forEach((t, i) => {
    assert.ok(zoo.meta.categories.includes(t.label), t.label);
    assert.equal(t.label, byFile.top[i].label);
    assert.ok(Math.abs(t.probability - byFile.top[i].probability) < 1e-6);
  });
});
