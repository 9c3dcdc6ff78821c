// `inception features` and the fine-tuning flags of `inception train` as a user runs them: real processes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { saveModelFolder } from '../src/io/model_folder';
import { decodeNpyFloat32 } from '../src/io/npy';
import { buildModel } from '../src/models/registry';
import { removeDir, tempDir } from './data_fixtures';
import { colourFolder, cpuCli } from './training_fixtures';

const cli = cpuCli;

let dir: string;
let data: string;
let base: string;
/** googlenet-cifar at width 0.05: inception_5b gives round(0.05 * (384, 384, 128, 128)) = 19+19+6+6 channels. */
const DIMS = 50;

before(async () => {
  await tf.setBackend('cpu');
  dir = await tempDir();
  data = await colourFolder(path.join(dir, 'data'), 3);
  base = path.join(dir, 'base');
  const model = buildModel('googlenet-cifar', {
    widthMultiplier: 0.05,
    inputShape: [32, 32, 3],
    numClasses: 2,
    seed: 5,
  });
  await saveModelFolder(base, model, {
    model: 'googlenet-cifar',
    widthMultiplier: 0.05,
    labels: ['a', 'b'],
    preprocessing: { inputShape: [32, 32, 3], mean: [0.4, 0.45, 0.5], std: [0.2, 0.25, 0.3], resize: 'fill' },
  });
  model.dispose();
});

after(async () => {
  await removeDir(dir);
});

/** CSV rows split naively: the test paths hold no commas or quotes. */
async function readCsv(file: string): Promise<string[][]> {
  const text = await fs.readFile(file, 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((l) => l.split(','));
}

test('features: one embedding per image with its path and label, as CSV and as .npy + index; the same from --model-dir', async () => {
  const csv = path.join(dir, 'f.csv');
  const r = cli('features', '--weights', base, '--out', csv, '--json', data);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { out: [csv], images: 9, dims: DIMS });
  const rows = await readCsv(csv);
  assert.deepEqual(rows[0].slice(0, 3), ['path', 'label', 'f0']);
  assert.equal(rows[0].length, 2 + DIMS);
  assert.equal(rows.length, 1 + 9);
  assert.deepEqual(
    rows
      .slice(1)
      .map((row) => row[1])
      .sort(),
    ['blue', 'blue', 'blue', 'green', 'green', 'green', 'red', 'red', 'red'],
  );
  for (const row of rows.slice(1)) {
    assert.equal(path.basename(path.dirname(row[0])), row[1], 'the label is the class folder');
    assert.ok(row.slice(2).every((v) => Number.isFinite(Number(v))));
  }

  const npy = path.join(dir, 'f.npy');
  assert.equal(cli('features', '--weights', base, '--out', npy, data).code, 0);
  const array = decodeNpyFloat32(new Uint8Array(await fs.readFile(npy)), npy);
  assert.deepEqual(array.shape, [9, DIMS]);
  const index = await readCsv(path.join(dir, 'f.index.csv'));
  assert.deepEqual(index[0], ['row', 'path', 'label']);
  assert.deepEqual(
    index.slice(1).map((row) => [row[1], row[2]]),
    rows.slice(1).map((row) => [row[0], row[1]]),
  );
  // CSV values are the .npy values to nine significant digits.
  rows.slice(1).forEach((row, i) => {
    row.slice(2).forEach((v, k) => {
      assert.ok(Math.abs(Number(v) - array.data[i * DIMS + k]) <= 1e-6 * Math.max(1, Math.abs(Number(v))));
    });
  });

  // A trained model folder: its features are what its head reads, the same body and pooling here.
  const fromFolder = path.join(dir, 'g.npy');
  assert.equal(cli('features', '--model-dir', base, '--out', fromFolder, data).code, 0);
  const folderArray = decodeNpyFloat32(new Uint8Array(await fs.readFile(fromFolder)), fromFolder);
  assert.deepEqual(folderArray.shape, [9, DIMS]);
  folderArray.data.forEach((v, i) => {
    assert.ok(Math.abs(v - array.data[i]) < 1e-5, `feature ${i}`);
  });
});

test('numpy reads the .npy file', {
  skip: hasNumpy() ? false : '/usr/bin/python3 has no numpy',
}, async () => {
  const npy = path.join(dir, 'f.npy');
  await fs.access(npy).catch(() => cli('features', '--weights', base, '--out', npy, data));
  const r = spawnSync(
    '/usr/bin/python3',
    ['-c', `import numpy as n; a = n.load(${JSON.stringify(npy)}); print(a.dtype, a.shape)`],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.stdout.trim(), `float32 (9, ${DIMS})`, r.stderr);
});

function hasNumpy(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
}

/** A bad command line: exit 2, one line on stderr matching `pattern`, nothing published in `out`. */
async function assertUsageError(args: string[], pattern: RegExp, out?: string): Promise<void> {
  const r = cli(...args);
  assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}; stderr: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  if (out) assert.equal(await fs.stat(path.join(out, 'model.json')).catch(() => null), null);
}

test('train and features refuse bad fine-tuning input with a usage error (exit 2)', async () => {
  const out = path.join(dir, 'never');
  const train = [
    'train',
    '--data',
    data,
    '--out',
    out,
    '--val-split',
    '0',
    '--epochs',
    '2',
    '--batch-size',
    '4',
  ];
  await assertUsageError([...train, '--freeze', 'base'], /--freeze base needs --weights SPEC/);
  await assertUsageError(
    [...train, '--weights', base, '--unfreeze-at', '1'],
    /--unfreeze-at needs --freeze base/,
  );
  await assertUsageError(
    [...train, '--weights', base, '--fine-tune-lr', '1e-4'],
    /--fine-tune-lr needs --unfreeze-at/,
  );
  await assertUsageError(
    [...train, '--weights', base, '--freeze', 'base', '--unfreeze-at', '2'],
    /--unfreeze-at 2 must be below --epochs 2/,
  );
  await assertUsageError(
    [...train, '--weights', path.join(dir, 'nothing-here')],
    /--weights: .*nothing-here: no such file or folder/,
  );
  await assertUsageError(
    [
      ...train,
      '--weights',
      base,
      '--freeze',
      'base',
      '--unfreeze-at',
      '1',
      '--unfreeze-from',
      'inception_9z',
    ],
    /no layer "inception_9z" in googlenet_cifar; near names: inception_/,
    out,
  );
  await assertUsageError(
    ['features', '--out', path.join(dir, 'x.csv'), data],
    /give --weights SPEC or --model-dir DIR/,
  );
  await assertUsageError(
    ['features', '--weights', base, '--out', path.join(dir, 'x.txt'), data],
    /--out must end in .csv or .npy/,
  );
});
