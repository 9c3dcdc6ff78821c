import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { mappedLibraries } from '../src/doctor/environment';
import { skipWithoutAddon } from './helpers/onednn';

const MAIN = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');

function cli(args: string[], env: Record<string, string> = {}) {
  const { INCEPTION_BACKEND: _, ...rest } = process.env;
  return spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...rest, ...env },
    timeout: 60_000,
  });
}

test('inception --help lists every command with its summary, doctor included', () => {
  const run = cli(['--help']);
  assert.equal(run.status, 0, run.stderr);
  for (const name of [
    'summary',
    'train',
    'evaluate',
    'predict',
    'export',
    'serve',
    'report',
    'plot',
    'bench',
    'doctor',
  ]) {
    assert.match(run.stdout, new RegExp(`^  ${name} +\\S`, 'm'), `${name} missing from --help`);
  }
  assert.equal(run.stderr, '');
});

test('doctor --json: the native engine, where it came from, what oneDNN dispatches to, the mapped libdnnl', {
  skip: skipWithoutAddon,
}, () => {
  const run = cli(['doctor', '--json']);
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.deepEqual(report.backend, { backend: 'onednn', how: 'native' });
  assert.ok(['prebuilt', 'source build'].includes(report.addon.source));
  assert.match(report.addon.onednnVersion, /^\d+\.\d+\.\d+$/);
  assert.match(report.addon.cpuIsa, /^(avx|sse41|avx2|avx512|0x)/);
  assert.ok(report.addon.threads >= 1);
  // bf16 is listed exactly where the ISA oneDNN dispatches to has it (AVX512_BF16 or AMX).
  const bf16 = /bf16|amx/.test(report.addon.cpuIsa);
  assert.deepEqual(report.addon.precisions.available, bf16 ? ['fp32', 'bf16', 'int8'] : ['fp32', 'int8']);
  assert.equal(report.addon.precisions.bf16Unavailable === null, bf16);
  assert.match(report.addon.libraries.libdnnl, /\/libdnnl\.so[.\d]*$/);
  assert.match(report.folders.models.cifar10, /models[/\\]cifar10$/);
  assert.equal(report.versions.node, process.version);
});

test('doctor with INCEPTION_BACKEND=cpu says the choice was requested', () => {
  const run = cli(['doctor', '--json'], { INCEPTION_BACKEND: 'cpu', INCEPTION_HOME: '/tmp/inception-home' });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.deepEqual(report.backend, { backend: 'cpu', how: 'requested' });
  assert.equal(report.folders.cache, '/tmp/inception-home');
});

test('mappedLibraries: the files of a /proc/PID/maps text whose name starts with the prefix, once each', () => {
  const maps = [
    '7f00-7f10 r--p 00000000 08:01 123  /opt/app/prebuilds/linux-x64/libdnnl.so.2',
    '7f10-7f20 r-xp 00010000 08:01 123  /opt/app/prebuilds/linux-x64/libdnnl.so.2',
    '7f20-7f30 r--p 00000000 08:01 124  /usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0',
    '7f30-7f40 rw-p 00000000 00:00 0 ',
    '7ffd-7ffe rw-p 00000000 00:00 0    [stack]',
  ].join('\n');
  assert.deepEqual(mappedLibraries(maps, 'libdnnl.so'), ['/opt/app/prebuilds/linux-x64/libdnnl.so.2']);
  assert.deepEqual(mappedLibraries(maps, 'libgomp.so'), ['/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0']);
  assert.deepEqual(mappedLibraries(maps, 'libOpenCL.so'), []);
});
