// Smaller bad inputs: a FIFO named .jpg, decode errors whose detail libvips loses, --skip-bad-files counts,
// write errors that name no file.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, mock, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { decodePixels, ImageDecodeError } from '../src/data/decode';
import { writeFileAtomic } from '../src/io/atomic';
import { saveCheckpoint } from '../src/training/checkpoint';
import { removeDir, tempDir } from './data_fixtures';
import { CLI_MAIN, CPU_ENV, colourFolder, TINY_TRAIN_FLAGS } from './training_fixtures';
import { tinyModel } from './training_helpers';

const GEOMETRY = { inputShape: [32, 32, 3] as [number, number, number], resize: 'fill' as const };
let dir: string;
let data: string;
let fifo: string;
let brokenPng: string;

/** Runs the CLI without blocking this process (a hang must fail the test, not freeze it). */
function cli(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: CPU_ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

before(async () => {
  await tf.setBackend('cpu');
  dir = await tempDir();
  data = await colourFolder(path.join(dir, 'data'), 4, 0);
  fifo = path.join(dir, 'fifo.jpg');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  // A PNG whose first data chunk's type is damaged: libvips reports only "Input buffer has corrupt header:".
  const png = await fs.readFile(path.join(data, 'red', '000.png'));
  png[60] ^= 0xff;
  brokenPng = path.join(dir, 'broken.png');
  await fs.writeFile(brokenPng, png);
});

after(async () => {
  await removeDir(dir);
});

test('decoding a FIFO named .jpg fails at once with an ImageDecodeError naming it', {
  timeout: 20_000,
}, async () => {
  await assert.rejects(decodePixels(fifo, GEOMETRY), (e: Error) => {
    assert.ok(e instanceof ImageDecodeError);
    assert.equal(e.message, `${fifo}: a FIFO, not a regular image file`);
    return true;
  });
});

test('a decode error libvips leaves without detail still says what the file is', async () => {
  await assert.rejects(decodePixels(brokenPng, GEOMETRY), (e: Error) => {
    assert.doesNotMatch(e.message, /:\)$/);
    assert.match(
      e.message,
      /not a decodable image \(.*PNG data of \d+ bytes that the decoder cannot parse\)$/,
    );
    return true;
  });
});

test('predict on a FIFO: one line, exit 1, no hang', async () => {
  const model = path.join(dir, 'model');
  const trained = await cli(['train', '--data', data, ...TINY_TRAIN_FLAGS, '--epochs', '1', '--out', model]);
  assert.equal(trained.code, 0, trained.stderr);
  const r = await cli(['predict', '--model-dir', model, fifo], 30_000);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `inception predict: error: ${fifo}: a FIFO, not a regular image file\n`);
});

test('train over a folder holding a FIFO and a broken PNG: stops naming one; --skip-bad-files trains on the rest and counts only them', async () => {
  const mixed = path.join(dir, 'mixed');
  await fs.cp(data, mixed, { recursive: true });
  assert.equal(spawnSync('mkfifo', [path.join(mixed, 'blue', 'zz-fifo.jpg')]).status, 0);
  await fs.copyFile(brokenPng, path.join(mixed, 'red', 'zz-broken.png'));
  const stopped = await cli([
    'train',
    '--data',
    mixed,
    ...TINY_TRAIN_FLAGS,
    '--epochs',
    '1',
    '--out',
    path.join(dir, 'stopped'),
  ]);
  assert.equal(stopped.code, 1, stopped.stderr);
  assert.equal(stopped.stderr.trim().split('\n').length, 1, stopped.stderr);
  assert.match(
    stopped.stderr,
    /zz-(fifo\.jpg: a FIFO|broken\.png: not a decodable image \(.*PNG data of \d+ bytes)/,
  );
  const skipped = await cli([
    'train',
    '--data',
    mixed,
    ...TINY_TRAIN_FLAGS,
    '--epochs',
    '1',
    '--skip-bad-files',
    '--json',
    '--out',
    path.join(dir, 'skipped'),
  ]);
  assert.equal(skipped.code, 0, skipped.stderr);
  const result = JSON.parse(skipped.stdout);
  assert.equal(result.trainImages, 12, 'the 12 good images, not the 14 files');
  assert.match(skipped.stderr, /zz-fifo\.jpg: skipped \(a FIFO/);
  assert.match(skipped.stderr, /zz-broken\.png: skipped \(.*PNG data/);
  // 12 images in batches of 4: three steps, not the four that 14 files would make.
  assert.match(skipped.stderr, /3\/3 \[=+\]/);
  assert.doesNotMatch(skipped.stderr, /\/4 \[/);
});

test('a write that fails for lack of space names the file', async (t) => {
  const enospc = () =>
    Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  t.mock.method(fs, 'writeFile', enospc);
  const file = path.join(dir, 'out', 'labels.json');
  await assert.rejects(writeFileAtomic(file, 'x'), (e: NodeJS.ErrnoException) => {
    assert.equal(e.message, `${file}: cannot write: no space left on device`);
    assert.equal(e.code, 'ENOSPC');
    return true;
  });
  const model = tinyModel();
  const last = path.join(dir, 'ckpt', 'last');
  await assert.rejects(
    saveCheckpoint(
      last,
      model,
      { epoch: 1, step: 0, progress: null, learningRate: 0.1, callbacks: {}, history: [] },
      {},
    ),
    (e: Error) => e.message === `${last}/weights.bin: cannot write: no space left on device`,
  );
  model.dispose();
  mock.restoreAll();
});
