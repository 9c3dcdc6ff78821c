// Every command checks preprocessing.json against the model when it loads a folder: one line naming the file
// and the field, a non-zero exit, nothing written, no server started.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { exportOnnxBytes } from '../src/export/onnx';
import { backendReady } from '../src/index';
import { loadModelFolder, PREPROCESSING_JSON } from '../src/io/model_folder';
import { createInferenceServer } from '../src/serve/server';
import { removeDir, tempDir } from './data_fixtures';
import { CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';

const MAIN = path.join(__dirname, '..', 'src', 'cli', 'main.js');
const IMAGE = path.join(CIFAR_SAMPLE, 'val', 'cat', '0000.jpg');
let good: string;
let dir: string;

before(async () => {
  await backendReady;
  good = await makeModelFolder(0.05);
  dir = await tempDir();
});

after(async () => {
  await removeDir(good);
  await removeDir(dir);
});

/** A copy of the good folder with preprocessing.json changed by `edit`. */
async function folderWith(name: string, edit: (prep: any) => void): Promise<string> {
  const out = path.join(dir, name);
  await fs.cp(good, out, { recursive: true });
  const file = path.join(out, PREPROCESSING_JSON);
  const prep = JSON.parse(await fs.readFile(file, 'utf8'));
  edit(prep);
  await fs.writeFile(file, JSON.stringify(prep));
  return out;
}

const BAD: [string, (p: any) => void, RegExp][] = [
  ['negative-std', (p) => (p.std[1] = -0.2), /std\[1\] is -0\.2/],
  ['zero-std', (p) => (p.std[0] = 0), /std\[0\] is 0/],
  ['huge-mean', (p) => (p.mean[2] = 1e308), /mean\[2\] is 1e\+308/],
  ['null-mean', (p) => (p.mean[0] = null), /mean\[0\] is null/],
  ['two-means', (p) => p.mean.pop(), /mean must hold 3 numbers/],
  [
    'other-shape',
    (p) => (p.inputShape = [64, 64, 3]),
    /inputShape is \[64,64,3\] but the model takes \[32,32,3\]/,
  ],
  ['four-channels', (p) => (p.inputShape = [32, 32, 4]), /inputShape must be \[height, width, 1 or 3\]/],
  ['zoom', (p) => (p.resize = 'zoom'), /resize must be "fill" or "cover", got "zoom"/],
];

for (const [name, edit, pattern] of BAD) {
  test(`${name}: loading names preprocessing.json and the field; serve and export refuse`, async () => {
    const folder = await folderWith(name, edit);
    const file = path.join(folder, PREPROCESSING_JSON);
    await assert.rejects(loadModelFolder(folder), (e: Error) => {
      assert.ok(e.message.startsWith(`${file}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    });
    await assert.rejects(createInferenceServer({ modelDir: folder, port: 0 }), pattern);
  });
}

test('the CLI: predict, evaluate, export and serve exit 1 with one line; export writes nothing', async () => {
  const folder = await folderWith('cli-huge-mean', (p) => (p.mean[0] = 1e308));
  const onnx = path.join(dir, 'bad.onnx');
  const env = { ...process.env, INCEPTION_BACKEND: 'cpu' };
  for (const args of [
    ['predict', '--model-dir', folder, IMAGE],
    ['evaluate', '--model-dir', folder, '--data', path.join(CIFAR_SAMPLE, 'val')],
    ['export', '--model-dir', folder, '--format', 'onnx', '--out', onnx],
    ['serve', '--model-dir', folder, '--port', '0'],
  ]) {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /preprocessing\.json: mean\[0\] is 1e\+308/);
    assert.doesNotMatch(r.stdout, /NaN|listening/);
  }
  await assert.rejects(fs.stat(onnx), /ENOENT/);
});

test('the library export refuses info that does not describe the model', async () => {
  const { model, info } = await loadModelFolder(good);
  assert.throws(
    () =>
      exportOnnxBytes(model, { ...info, preprocessing: { ...info.preprocessing, inputShape: [64, 64, 3] } }),
    /inputShape is \[64,64,3\] but the model takes \[32,32,3\]/,
  );
  assert.throws(
    () => exportOnnxBytes(model, { ...info, preprocessing: { ...info.preprocessing, std: [0.2, -1, 0.2] } }),
    /std\[1\] is -1/,
  );
  model.dispose();
});
