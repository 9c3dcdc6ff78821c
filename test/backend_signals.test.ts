import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { skipWithoutAddon } from './helpers/onednn';

const INDEX = resolve(__dirname, '..', 'src', 'index.js');

test('native kernels survive a signal every millisecond (V8 sampling profiler): no heap corruption', {
  skip: skipWithoutAddon,
}, () => {
  // Before signals were deferred during native calls, this aborted with "corrupted size vs. prev_size"
  // (oneDNN's gemm keeps data below the stack pointer, where the SIGPROF handler writes).
  const dir = mkdtempSync(join(tmpdir(), 'inception-signals-'));
  try {
    const script = `
        const { tf, backendReady, buildModel } = require(${JSON.stringify(INDEX)});
        backendReady.then(() => {
          const model = buildModel('googlenet', { inputShape: [32, 32, 3], numClasses: 10 });
          const x = tf.randomNormal([2, 32, 32, 3]);
          for (let i = 0; i < 3; i++) tf.tidy(() => model.predict(x).dataSync());
          console.log('predicted');
        });`;
    const run = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, INCEPTION_BACKEND: 'onednn', OMP_NUM_THREADS: '2' },
      timeout: 120_000,
    });
    assert.equal(run.status, 0, `exit ${run.status} (${run.signal}): ${run.stderr.trim().split('\n').pop()}`);
    assert.match(run.stdout, /predicted/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
