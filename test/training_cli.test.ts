// The train/evaluate/predict commands end to end, as a user runs them: a real process, real image files.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { removeDir, tempDir, writeImage } from './data_fixtures';
import { CPU_ENV, colourFolder, cpuCli, interruptedRun } from './training_fixtures';

const cli = cpuCli;

/** A failure the house way: one line on stderr naming the thing, non-zero exit, nothing on stdout. */
function assertOneLineError(r: ReturnType<typeof cli>, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

let dir: string;
let out: string;
let trained: any;
// A narrow GoogLeNet on three colour classes, easy enough to learn in a few epochs. --seed fixes the initial
// weights, dropout, shuffling and augmentation, so the outcome is the same every run on a backend. Width 0.25:
// narrower copies (one-channel branches) could stall at 2/3 for all five epochs when initialisation was not
// seeded (seen on onednn at 0.05 and 0.1).
const TRAIN_FLAGS = [
  '--seed',
  '1',
  '--width',
  '0.25',
  '--input-size',
  '32',
  '--batch-size',
  '8',
  '--lr',
  '0.003',
  '--dropout',
  '0',
];

before(async () => {
  dir = await tempDir();
  await colourFolder(path.join(dir, 'train'), 16, 0);
  await colourFolder(path.join(dir, 'val'), 6, 100);
  out = path.join(dir, 'model');
  const r = cli(
    'train',
    '--data',
    path.join(dir, 'train'),
    '--val-data',
    path.join(dir, 'val'),
    ...TRAIN_FLAGS,
    '--epochs',
    '5',
    '--monitor',
    'val_accuracy',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  trained = JSON.parse(r.stdout); // --json: exactly one JSON document on stdout
  assert.match(r.stderr, /Epoch 5\/5/, 'progress goes to stderr with --json');
});

after(async () => {
  await removeDir(dir);
});

test('train learns: a narrow GoogLeNet beats chance (1/3) clearly on held-out colour images', () => {
  const acc: number[] = trained.history.history.val_accuracy;
  assert.ok(trained.savedEpoch >= 1);
  const saved = acc[trained.savedEpoch - 1];
  assert.ok(saved >= 0.8, `val_accuracy per epoch ${acc}, saved epoch ${trained.savedEpoch}`);
  assert.deepEqual(trained.labels, ['blue', 'green', 'red']);
  assert.equal(trained.trainImages, 48);
  assert.equal(trained.valImages, 18);
});

test('the model folder holds the model, its description, history, curves and checkpoints', async () => {
  const files = await fs.readdir(out);
  for (const f of [
    'model.json',
    'weights.bin',
    'labels.json',
    'preprocessing.json',
    'model-info.json',
    'history.csv',
    'history.json',
    'training-curves.svg',
    'checkpoints',
  ]) {
    assert.ok(files.includes(f), `${f} in ${files}`);
  }
  assert.deepEqual((await fs.readdir(path.join(out, 'checkpoints'))).sort(), ['best', 'history.csv', 'last']);
  const prep = JSON.parse(await fs.readFile(path.join(out, 'preprocessing.json'), 'utf8'));
  assert.deepEqual(prep.inputShape, [32, 32, 3]);
  assert.equal(prep.mean.length, 3);
  assert.ok(prep.mean[0] > 0.2 && prep.mean[0] < 0.8, `mean ${prep.mean}`);
  const csv = (await fs.readFile(path.join(out, 'history.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'epoch,accuracy,loss,lr,val_accuracy,val_loss');
  assert.equal(csv.length, 6);
  const svg = await fs.readFile(path.join(out, 'training-curves.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<path /g) ?? []).length, 4, 'loss and accuracy, train and val');
  const state = JSON.parse(await fs.readFile(path.join(out, 'checkpoints', 'last', 'state.json'), 'utf8'));
  assert.equal(state.snapshot.epoch, 5);
  assert.equal(state.optimizer.className, 'Adam');
});

test('evaluate reports the same accuracy as training measured for the saved epoch, with per-class and confusion', () => {
  const r = cli('evaluate', '--model-dir', out, '--data', path.join(dir, 'val'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const expected = trained.history.history.val_accuracy[trained.savedEpoch - 1];
  assert.ok(Math.abs(report.accuracy - expected) < 1e-6, `${report.accuracy} vs ${expected}`);
  const expectedLoss = trained.history.history.val_loss[trained.savedEpoch - 1];
  assert.ok(Math.abs(report.loss - expectedLoss) < 1e-3, `${report.loss} vs ${expectedLoss}`);
  assert.equal(report.images, 18);
  assert.equal(report.top5, null, 'three classes: no top-5');
  assert.deepEqual(
    report.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0)),
    [6, 6, 6],
  );
  assert.deepEqual(
    report.perClass.map((c: any) => c.correct),
    [0, 1, 2].map((i) => report.confusion[i][i]),
  );
  const text = cli('evaluate', '--model-dir', out, '--data', path.join(dir, 'val'));
  assert.equal(text.code, 0);
  assert.match(text.stdout, /accuracy: \d\.\d{4}/);
  assert.match(text.stdout, /confusion matrix \(rows: true class, columns: predicted class\)/);
  assert.match(text.stdout, /^green\s+6\s+\d+\s+\d\.\d{4}$/m);
});

test('predict: top-k labels with probabilities for images of any size', async () => {
  const big = await writeImage(path.join(dir, 'big-red.png'), {
    width: 120,
    height: 70,
    format: 'png',
    pixel: () => [230, 30, 30],
  });
  const small = await writeImage(path.join(dir, 'small-blue.jpg'), {
    width: 20,
    height: 24,
    format: 'jpeg',
    pixel: () => [20, 50, 230],
  });
  const r = cli('predict', '--model-dir', out, '--top', '2', '--json', big, small);
  assert.equal(r.code, 0, r.stderr);
  const { predictions } = JSON.parse(r.stdout);
  assert.equal(predictions.length, 2);
  assert.equal(predictions[0].file, big);
  assert.equal(predictions[0].top.length, 2);
  assert.equal(predictions[0].top[0].label, 'red');
  assert.equal(predictions[1].top[0].label, 'blue');
  assert.ok(predictions[0].top[0].probability >= predictions[0].top[1].probability);
  const text = cli('predict', '--model-dir', out, big);
  assert.equal(text.code, 0);
  assert.match(text.stdout, new RegExp(`^${big}\\n  red\\s+\\d\\.\\d{4}$`, 'm'));
  assert.equal(text.stdout.trim().split('\n').length, 4, 'file line + 3 classes (top 5 capped)');
});

test('bad input: one-line errors naming the file, non-zero exit', async () => {
  assertOneLineError(
    cli('predict', '--model-dir', out, path.join(dir, 'nope.jpg')),
    1,
    /nope\.jpg: no such file/,
  );
  const corrupt = path.join(dir, 'corrupt.jpg');
  await fs.writeFile(corrupt, Buffer.from('this is not a jpeg at all'));
  assertOneLineError(cli('predict', '--model-dir', out, corrupt), 1, /corrupt\.jpg: not a decodable image/);
  // A truncated weights file, in a copy of the model folder.
  const broken = path.join(dir, 'broken');
  // verbatimSymlinks: fs.cp would otherwise turn the folder's relative generation links into absolute links
  // to `out`, and truncating the copy's weights would truncate out's.
  await fs.cp(out, broken, { recursive: true, verbatimSymlinks: true });
  const weights = path.join(broken, 'weights.bin');
  await fs.truncate(weights, (await fs.stat(weights)).size - 100);
  assertOneLineError(
    cli('predict', '--model-dir', broken, path.join(dir, 'big-red.png')),
    1,
    /weights\.bin: weights file is \d+ bytes/,
  );
  assertOneLineError(cli('evaluate', '--model-dir', broken, '--data', path.join(dir, 'val')), 1, /truncated/);
  assertOneLineError(
    cli('predict', '--model-dir', path.join(dir, 'missing'), 'x.png'),
    1,
    /missing: no such model folder/,
  );
  // Class folders that are not the model's labels.
  await fs.mkdir(path.join(dir, 'other', 'cyan'), { recursive: true });
  await fs.cp(path.join(dir, 'val', 'red'), path.join(dir, 'other', 'red'), { recursive: true });
  assertOneLineError(
    cli('evaluate', '--model-dir', out, '--data', path.join(dir, 'other')),
    1,
    /other: class folders do not match the expected classes \[blue, green, red\]/,
  );
  assertOneLineError(cli('train', '--data', path.join(dir, 'train'), '--bogus'), 2, /--bogus/);
  const help = cli('train', '--help');
  assert.equal(help.code, 0);
  for (const flag of [
    '--val-split',
    '--reduce-lr-patience',
    '--early-stopping-patience',
    '--restore-best-weights',
    '--resume',
  ]) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  assertOneLineError(cli('evaluate', '--model-dir', out), 2, /--data DIR is required/);
  assertOneLineError(
    cli('predict', '--model-dir', out, '--top', '0', 'x.png'),
    2,
    /--top must be an integer >= 1, got "0"/,
  );
  assertOneLineError(
    cli('train', '--data', path.join(dir, 'train'), '--optimizer', 'adagrad'),
    2,
    /--optimizer must be one of adam, rmsprop, sgd/,
  );
  assertOneLineError(
    cli('train', '--out', path.join(dir, 'fresh'), '--resume'),
    1,
    /fresh\/checkpoints\/last: no checkpoint to resume from/,
  );
});

test('a failed run leaves the saved model untouched', async () => {
  const before = await fs.readFile(path.join(out, 'weights.bin'));
  const bad = path.join(dir, 'bad-data');
  await fs.cp(path.join(dir, 'val'), bad, { recursive: true });
  await fs.writeFile(path.join(bad, 'green', 'zz-broken.png'), Buffer.from('garbage'));
  const r = cli('train', '--data', bad, '--val-split', '0', ...TRAIN_FLAGS, '--epochs', '1', '--out', out);
  assertOneLineError(r, 1, /zz-broken\.png: not a decodable image/);
  assert.deepEqual(await fs.readFile(path.join(out, 'weights.bin')), before);
});

test('--resume continues the run: later epochs, same earlier history', () => {
  const r = cli('train', '--out', out, '--resume', '--epochs', '6', '--json');
  assert.equal(r.code, 0, r.stderr);
  const resumed = JSON.parse(r.stdout);
  assert.deepEqual(resumed.history.epoch, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(resumed.history.history.loss.slice(0, 5), trained.history.history.loss);
  assert.match(r.stderr, /resuming from .*checkpoints\/last at epoch 6, step 0/);
  assert.match(r.stderr, /Epoch 6\/6/);
  assert.doesNotMatch(r.stderr, /Epoch 5\/6/);
});

test('SIGINT: finishes the step, writes checkpoints/last, says where, exits 130; --resume picks it up', async () => {
  const run = path.join(dir, 'interrupted');
  const { code, stderr } = await interruptedRun(
    [
      'train',
      '--data',
      path.join(dir, 'val'),
      '--val-split',
      '0',
      ...TRAIN_FLAGS,
      '--epochs',
      '50',
      '--out',
      run,
    ],
    CPU_ENV,
    180_000,
  );
  assert.equal(code, 130, stderr);
  // The run's own generation: an interrupted run leaves the published folder (none here) as it was.
  const written =
    /checkpoint written to (\S*interrupted\/\.gen-\w+\/checkpoints\/last); continue with: inception train --out .* --resume/.exec(
      stderr,
    );
  assert.ok(written, stderr);
  const state = JSON.parse(await fs.readFile(path.join(written[1], 'state.json'), 'utf8'));
  assert.equal(state.snapshot.epoch, 1, 'interrupted during the second epoch');
  await assert.rejects(fs.stat(path.join(run, 'model.json')), 'no final model from an interrupted run');
  const r = cli('train', '--out', run, '--resume', '--epochs', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).history.epoch, [0, 1]);
});
