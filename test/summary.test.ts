import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { formatSummary, googlenet, modelSummary } from '../src/index';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
// The Keras (tf.keras 2) functional summary of the notebook's default googlenet; regenerate with
// `node dist/src/cli/main.js summary > test/fixtures/googlenet-summary.txt` after a deliberate change.
const GOLDEN = readFileSync(path.join(ROOT, 'test', 'fixtures', 'googlenet-summary.txt'), 'utf8');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, 'summary', ...args], {
    encoding: 'utf8',
    env: { ...process.env, INCEPTION_BACKEND: 'cpu' },
  });
}

test('summary of the default googlenet is the golden Keras table with the notebook totals', () => {
  const r = cli();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, GOLDEN);
  assert.match(r.stdout, /^Model: "googlenet"\n/);
  assert.match(r.stdout, / Layer \(type\) +Output Shape +Param # +Connected to\n/);
  assert.match(r.stdout, /\nTotal params: 5,983,802\nTrainable params: 5,983,802\nNon-trainable params: 0\n/);
  assert.match(
    r.stdout,
    /\n inception_3a \(Concatenate\) +\(None, 28, 28, 256\) +0 +\['inception_3a_1x1\[0\]\[0\]',\n/,
  );
});

test('summary --json: one document with every layer, its inbound layers and the totals', () => {
  const r = cli('--json', '--input-shape', '64,64,3', '--width', '0.25', '--classes', '7');
  assert.equal(r.status, 0, r.stderr);
  const data = JSON.parse(r.stdout);
  const model = googlenet({ inputShape: [64, 64, 3], widthMultiplier: 0.25, numClasses: 7 });
  assert.equal(data.name, 'googlenet');
  assert.equal(data.layers.length, model.layers.length);
  assert.equal(data.totalParams, model.countParams());
  assert.equal(data.nonTrainableParams, 0);
  const output = data.layers.find((l: any) => l.name === 'output');
  assert.deepEqual(output, {
    name: 'output',
    className: 'Dense',
    outputShape: [null, 7],
    params: model.getLayer('output').countParams(),
    connectedTo: ['dropout[0][0]'],
  });
  assert.deepEqual(data.layers.find((l: any) => l.name === 'inception_5b').connectedTo.length, 4);
  model.dispose();
});

test('the library prints the same table as the CLI', () => {
  const model = googlenet();
  assert.equal(`${formatSummary(modelSummary(model))}\n`, GOLDEN);
  model.dispose();
});

test('summary rejects bad flags and values with a one-line error', () => {
  const bad = cli('--classes', '1');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.trim(), /^inception summary: error: --classes must be an integer >= 2, got "1"$/);
  const small = cli('--input-shape', '16,16,3');
  assert.equal(small.status, 1);
  assert.match(
    small.stderr.trim(),
    /^inception summary: error: googlenet: inputShape \[16,16,3\] is too small/,
  );
  assert.equal(cli('--bogus').status, 2);
});
