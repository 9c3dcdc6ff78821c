// `--precision` on predict, evaluate, serve and report: parsed from each command's table, a bad value is a
// usage error (exit 2), a precision that cannot run here is a one-line runtime error (exit 1), fp32 is the default.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { removeDir } from './data_fixtures';
import { CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';
import { CLI_MAIN } from './training_fixtures';

let modelDir: string;
const IMAGE = path.join(CIFAR_SAMPLE, 'val', 'cat', '0000.jpg');

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', env });
}

before(async () => {
  modelDir = await makeModelFolder();
});
after(() => removeDir(modelDir));

test('predict, evaluate, serve and report list --precision in --help', () => {
  for (const command of ['predict', 'evaluate', 'serve', 'report']) {
    const r = cli([command, '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--precision fp32\|bf16\|int8/, command);
  }
});

test('a bad --precision is a usage error naming the flag and the value', () => {
  const argv: Record<string, string[]> = {
    predict: [IMAGE],
    evaluate: ['--data', CIFAR_SAMPLE],
    serve: [],
    report: [],
  };
  for (const [command, rest] of Object.entries(argv)) {
    const r = cli([command, '--model-dir', modelDir, '--precision', 'fp16', ...rest]);
    assert.equal(r.status, 2, `${command}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--precision .*"fp16"/);
  }
});

test('--precision fp32 is the default and gives the same predictions', () => {
  const plain = cli(['predict', '--model-dir', modelDir, '--json', IMAGE]);
  const fp32 = cli(['predict', '--model-dir', modelDir, '--precision', 'fp32', '--json', IMAGE]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(fp32.status, 0, fp32.stderr);
  assert.deepEqual(JSON.parse(fp32.stdout), JSON.parse(plain.stdout));
});

test('int8 without calibrated ranges, and bf16 off the native engine, fail in one line with exit 1', () => {
  const int8 = cli(['predict', '--model-dir', modelDir, '--precision', 'int8', IMAGE]);
  assert.equal(int8.status, 1, int8.stderr);
  assert.equal(int8.stdout, '');
  assert.equal(int8.stderr.trim().split('\n').length, 1, int8.stderr);
  assert.match(int8.stderr, /int8/);
  const bf16 = cli(
    ['evaluate', '--model-dir', modelDir, '--data', path.join(CIFAR_SAMPLE, 'val'), '--precision', 'bf16'],
    {
      ...process.env,
      INCEPTION_BACKEND: 'cpu',
    },
  );
  assert.equal(bf16.status, 1, bf16.stderr);
  assert.equal(bf16.stderr.trim().split('\n').length, 1, bf16.stderr);
  assert.match(bf16.stderr, /--precision bf16 needs the native oneDNN engine.*engine in use: cpu/);
});
