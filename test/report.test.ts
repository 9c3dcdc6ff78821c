import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady } from '../src/index';
import { parseHistory } from '../src/report/history';
import { CIFAR_LABELS, CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';

const MAIN = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
let modelDir: string;

before(async () => {
  await backendReady;
  modelDir = await makeModelFolder();
});
after(() => fs.rm(modelDir, { recursive: true }));

test('history parsing: CSVLogger csv, Keras History.history json, list of {epoch, logs}', () => {
  const csv = parseHistory('h.csv', 'epoch,acc,loss,val_loss\n0,0.1,2.3,2.2\n1,0.3,1.9,2.0\n');
  assert.deepEqual(csv.epochs, [0, 1]);
  assert.deepEqual(csv.series.val_loss, [2.2, 2.0]);
  const keras = parseHistory(
    'h.json',
    JSON.stringify({ history: { loss: [3, 2, 1], val_loss: [3, 2.5, 2] }, epoch: [0, 1, 2] }),
  );
  assert.deepEqual(keras.series.loss, [3, 2, 1]);
  const rows = parseHistory(
    'h.json',
    JSON.stringify([
      { epoch: 4, logs: { loss: 1 } },
      { epoch: 5, logs: { loss: 0.5 } },
    ]),
  );
  assert.deepEqual(rows.epochs, [4, 5]);
  assert.deepEqual(rows.series.loss, [1, 0.5]);
});

test('inception report --data: one self-contained HTML with curves, confusion matrix, per-class accuracy, samples', async () => {
  await fs.writeFile(
    path.join(modelDir, 'history.csv'),
    'epoch,acc,loss,lr,val_acc,val_loss\n0,0.12,2.31,0.001,0.15,2.25\n1,0.25,2.01,0.001,0.22,2.05\n2,0.33,1.80,0.0005,0.30,1.95\n',
  );
  const r = spawnSync(
    process.execPath,
    [
      MAIN,
      'report',
      '--model-dir',
      modelDir,
      '--data',
      path.join(CIFAR_SAMPLE, 'val'),
      '--samples-per-class',
      '2',
    ],
    { env: { ...process.env, INCEPTION_BACKEND: 'cpu' }, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const m = r.stdout.match(/accuracy ([\d.]+)% on (\d+) images/);
  assert.ok(m, r.stdout);
  const total = Number(m[2]);
  const html = await fs.readFile(path.join(modelDir, 'report.html'), 'utf8');
  assert.equal((html.match(/<polyline/g) ?? []).length, 5, 'acc+val_acc, loss+val_loss, lr');
  // Confusion matrix: one row per class, counts summing to the number of images.
  const table = html.slice(html.indexOf('<table class="confusion">'), html.indexOf('</table>'));
  const counts = [...table.matchAll(/<td [^>]*>(\d+)<\/td>/g)].map((x) => Number(x[1]));
  assert.equal(counts.length, CIFAR_LABELS.length ** 2);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    total,
  );
  assert.equal((html.match(/class="sample (right|wrong)"/g) ?? []).length, 2 * CIFAR_LABELS.length);
  assert.equal((html.match(/src="data:image\/jpeg;base64,/g) ?? []).length, 2 * CIFAR_LABELS.length);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing loaded from elsewhere');
  assert.doesNotMatch(html, /<script/);
});

test('report with --data of other classes: one-line error naming the folder', () => {
  const r = spawnSync(
    process.execPath,
    [MAIN, 'report', '--model-dir', modelDir, '--data', path.join(CIFAR_SAMPLE, 'val', 'cat')],
    {
      env: { ...process.env, INCEPTION_BACKEND: 'cpu' },
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^inception report: error: .*cat.*\n$/);
});
