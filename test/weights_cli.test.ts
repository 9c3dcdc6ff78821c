// `--model BUILDER --weights NAME|FILE|DIR` on predict, evaluate and export: the same predictions as the
// model folder it stands for, `export --format tfjs` turning it into a model folder with its labels and
// preprocessing, and bad combinations as usage errors (exit 2) or one-line errors (exit 1).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

const MAIN = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
const HELD_OUT = path.join(__dirname, '..', '..', 'data', 'cifar10-heldout');
const IMAGES = ['cat/0013.jpg', 'ship/0003.jpg'].map((f) => path.join(HELD_OUT, f));

/** The CLI with the default engine (onednn when built: evaluate on tfjs's JS cpu takes 5x longer). */
function cli(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    env: { ...process.env, INCEPTION_OFFLINE: '1' },
    encoding: 'utf8',
  });
}

type Predictions = { file: string; top: { label: string; probability: number }[] }[];

function predictJson(...args: string[]): Predictions {
  const run = cli('predict', '--json', '--top', '3', ...args, ...IMAGES);
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout).predictions;
}

test('predict --model googlenet-cifar --weights cifar10 | DIR predicts as the shipped model folder', async () => {
  const reference = predictJson('--model', 'cifar10');
  const byName = predictJson('--model', 'googlenet-cifar', '--weights', 'cifar10');
  const byFolder = predictJson('--model', 'googlenet-cifar', '--weights', path.join('models', 'cifar10'));
  for (const got of [byName, byFolder]) {
    got.forEach((p, i) => {
      assert.deepEqual(
        p.top.map((t) => t.label),
        reference[i].top.map((t) => t.label),
      );
      p.top.forEach((t, k) => {
        assert.ok(Math.abs(t.probability - reference[i].top[k].probability) < 1e-5);
      });
    });
  }
  assert.equal(byName[0].top[0].label, 'cat');
});

test('export --model BUILDER --weights NAME --format tfjs writes a model folder with labels and preprocessing', async () => {
  const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'inception-weights-cli-')), 'cifar');
  const run = cli(
    'export',
    '--model',
    'googlenet-cifar',
    '--weights',
    'cifar10',
    '--format',
    'tfjs',
    '--out',
    out,
  );
  assert.equal(run.status, 0, run.stderr);
  const labels = JSON.parse(await fs.readFile(path.join(out, 'labels.json'), 'utf8'));
  assert.equal(labels.length, 10);
  const info = JSON.parse(await fs.readFile(path.join(out, 'model-info.json'), 'utf8'));
  assert.deepEqual(info, { model: 'googlenet-cifar', widthMultiplier: 0.5 });
  const reference = predictJson('--model', 'cifar10');
  const fromExport = predictJson('--model-dir', out);
  assert.deepEqual(
    fromExport.map((p) => p.top[0].label),
    reference.map((p) => p.top[0].label),
  );
  // evaluate takes the same flags.
  const evaluate = cli(
    'evaluate',
    '--model',
    'googlenet-cifar',
    '--weights',
    out,
    '--data',
    HELD_OUT,
    '--json',
  );
  assert.equal(evaluate.status, 0, evaluate.stderr);
  const report = JSON.parse(evaluate.stdout);
  assert.equal(report.images, 50);
  assert.ok(report.accuracy >= 0.8, String(report.accuracy));
});

test('bad --weights combinations: usage errors exit 2, unknown weights exit 1, each one line', () => {
  const cases: [string[], number, RegExp][] = [
    [['--weights', 'cifar10'], 2, /--weights needs --model BUILDER/],
    [['--model-dir', 'x', '--weights', 'cifar10'], 2, /--weights goes with --model BUILDER, not --model-dir/],
    [['--model', 'cifar10', '--weights', 'cifar10'], 2, /--model "cifar10" is not a builder/],
    [
      ['--model', 'googlenet-paper', '--weights', 'imagenett'],
      1,
      /unknown weights "imagenett" for googlenet-paper; names: imagenet; or a model folder, or a \.onnx file/,
    ],
    [
      ['--model', 'googlenet', '--weights', path.join('models', 'cifar10')],
      1,
      /holds a googlenet-cifar model, not googlenet/,
    ],
    [
      ['--model', 'googlenet-paper', '--weights', 'imagenet'],
      1,
      /googlenet-12\.onnx: not in the cache .* downloads are off \(INCEPTION_OFFLINE\)/,
    ],
  ];
  for (const [args, status, message] of cases) {
    // The cpu engine: no fallback warning on stderr where the addon is not built.
    const run = spawnSync(process.execPath, [MAIN, 'predict', ...args, IMAGES[0]], {
      env: { ...process.env, INCEPTION_BACKEND: 'cpu', INCEPTION_OFFLINE: '1' },
      encoding: 'utf8',
    });
    assert.equal(run.status, status, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(' '));
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  }
});

const torchSkip =
  spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision']).status !== 0
    ? '/usr/bin/python3 lacks torch/torchvision (apt-get install python3-torchvision)'
    : false;

test('predict --model googlenet-torchvision --weights FILE.pth prints ImageNet labels', {
  skip: torchSkip,
}, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'inception-weights-cli-'));
  const pth = path.join(dir, 'googlenet.pth');
  const script = [
    'import sys, torch, torchvision',
    'torch.manual_seed(0)',
    'm = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)',
    'torch.save(m.state_dict(), sys.argv[1])',
  ].join('\n');
  const made = spawnSync('/usr/bin/python3', ['-c', script, pth], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const run = cli('predict', '--json', '--model', 'googlenet-torchvision', '--weights', pth, IMAGES[0]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /labels and preprocessing from googlenet-torchvision's imagenet weights/);
  const [prediction] = JSON.parse(run.stdout).predictions as Predictions;
  const categories = require('../src/weights/imagenet_categories.json') as string[];
  assert.ok(prediction.top.every((t) => categories.includes(t.label)));
});
