import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { externalSection } from '../bench/external_section';
import { forwardFlopsPerImage } from '../bench/flops';
import { formatTable } from '../bench/report';
import { checkTargets } from '../bench/targets';
import { fitBudget } from '../bench/timing';
import type { BenchContext } from '../bench/types';
import { tf } from '../src/index';

const MAIN = join(__dirname, '..', 'src', 'cli', 'main.js');

function bench(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAIN, 'bench', ...args], {
    encoding: 'utf8',
    env: { ...process.env, INCEPTION_BACKEND: 'cpu', ...env },
    timeout: 120_000,
  });
}

test('bench --quick --json: one JSON document, every engine accounted for, missing peers say why', () => {
  // A narrow network keeps the real measurements cheap; a Python that does not exist must make both
  // PyTorch rows come out missing, not faked.
  const run = bench(
    ['--quick', '--json', '--width', '0.1', '--only', 'infer-224-b1,train-32-b128', '--reps', '1'],
    {
      INCEPTION_BENCH_PYTHON: '/nonexistent/python3',
    },
  );
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.tool, 'inception bench');
  assert.deepEqual([report.model.name, report.model.width, report.model.params], ['googlenet', 0.1, 61_802]);
  assert.ok(report.machine.cores >= 1 && report.options.threads >= 1);
  assert.deepEqual(
    report.engines.map((e: { id: string }) => e.id),
    ['onednn', 'tfjs-cpu', 'tfjs-wasm', 'onnxruntime', 'torch-nchw', 'torch-channels-last'],
  );
  for (const engine of report.engines) {
    assert.ok(['ok', 'missing'].includes(engine.status), engine.id);
    if (engine.status === 'missing') assert.ok(engine.reason.length > 0, engine.id);
  }
  const [infer, train] = report.sections;
  assert.deepEqual(
    report.sections.map((s: { id: string }) => s.id),
    ['infer-224-b1', 'train-32-b128'],
  );
  assert.deepEqual(train.workload, {
    mode: 'training',
    model: 'googlenet',
    classes: 10,
    width: 0.1,
    size: 32,
    batch: 128,
  });
  const rowsOf = (section: { rows: { id: string }[] }) =>
    Object.fromEntries(section.rows.map((r) => [r.id, r as any]));
  const inferRows = rowsOf(infer);
  const trainRows = rowsOf(train);
  assert.deepEqual(
    Object.keys(inferRows),
    report.engines.map((e: { id: string }) => e.id),
  );
  // Training: onednn and the two PyTorch layouts; wasm, cpu and onnxruntime cannot or do not train here.
  assert.deepEqual(Object.keys(trainRows), ['onednn', 'torch-nchw', 'torch-channels-last']);
  for (const rows of [inferRows, trainRows]) {
    for (const id of ['torch-nchw', 'torch-channels-last']) {
      assert.equal(rows[id].status, 'missing');
      assert.match(rows[id].reason, /nonexistent\/python3/);
      assert.equal(rows[id].msPerImage, undefined);
    }
  }
  // The JS engines really ran: one timed step each, with throughput and memory.
  for (const id of ['tfjs-cpu', 'tfjs-wasm']) {
    const row = inferRows[id];
    assert.equal(row.status, 'ok', JSON.stringify(row));
    assert.equal(row.timesMs.length, 1);
    assert.ok(row.msPerImage > 0 && row.imagesPerSecond > 0 && row.gflops > 0 && row.peakRssMiB > 0);
  }
  assert.equal(inferRows['tfjs-cpu'].threads, 1);
  // Without torch the ONNX model comes from the project's exporter when built, else the row is missing.
  assert.ok(['ok', 'missing'].includes(inferRows.onnxruntime.status), JSON.stringify(inferRows.onnxruntime));
  for (const rows of [inferRows, trainRows]) {
    const onednn = rows.onednn;
    if (onednn.status === 'ok') assert.equal(onednn.ratio, 1);
    else {
      assert.ok(['missing', 'failed'].includes(onednn.status) && onednn.reason, JSON.stringify(onednn));
      assert.equal(inferRows['tfjs-cpu'].ratio, null);
    }
  }
});

test('bench rejects an unknown section with a usage error', () => {
  const run = bench(['--only', 'no-such-section']);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /unknown section "no-such-section"; known: infer-224-b1/);
  assert.equal(run.stdout, '');
});

test('a section whose file is not in the build shows as missing', async () => {
  const section = externalSection('later', 'not written yet', 'no_such_section_file');
  const report = await section.run({} as BenchContext);
  assert.equal(report.status, 'missing');
  assert.match(report.reason ?? '', /bench\/no_such_section_file\.ts is not in this build/);
});

test('a section file in the build runs and hands back its table', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-section-'));
  writeFileSync(
    join(dir, 'fake_load.js'),
    `exports.run = async (ctx) => ({ columns: [{ key: 'what', label: 'what' }], rows: [{ what: ctx.threads }] });`,
  );
  const report = await externalSection('fake', 'a fake section', 'fake_load', dir).run({
    threads: 7,
  } as BenchContext);
  rmSync(dir, { recursive: true });
  assert.equal(report.status, 'ok');
  assert.equal(report.id, 'fake');
  assert.deepEqual(report.rows, [{ what: 7 }]);
  assert.deepEqual(formatTable(report), ['what', '7']);
});

test('a section whose tool is not installed (autocannon, a devDependency) shows as missing, not failed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-section-'));
  writeFileSync(
    join(dir, 'needs_tool.js'),
    `require('no-such-load-generator'); exports.run = async () => ({});`,
  );
  const report = await externalSection('tool', 'needs a tool', 'needs_tool', dir).run({} as BenchContext);
  rmSync(dir, { recursive: true });
  assert.equal(report.status, 'missing');
  assert.match(report.reason ?? '', /Cannot find module 'no-such-load-generator'/);
});

test('FLOPs: 2 x MACs of conv and dense layers, counted from the layers', () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' }).apply(input);
  const flat = tf.layers.flatten().apply(conv);
  const dense = tf.layers.dense({ units: 5 }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: dense });
  // conv: 4x4 outputs x 4 filters x 3x3x3 taps; dense: 64 x 5.
  assert.equal(forwardFlopsPerImage(model), 2 * (4 * 4 * 4 * 27 + 64 * 5));
  model.dispose();
});

test('report tables print missing rows with their reason', () => {
  const lines = formatTable({
    id: 's',
    title: 't',
    status: 'ok',
    columns: [
      { key: 'engine', label: 'engine' },
      { key: 'ms', label: 'ms' },
    ],
    rows: [
      { engine: 'fast', status: 'ok', ms: 12.345 },
      { engine: 'gone', status: 'missing', reason: 'not installed' },
    ],
  });
  assert.deepEqual(lines, ['engine    ms', 'fast    12.3', 'gone    missing (not installed)']);
});

test("targets compare onednn with PyTorch's faster layout and say which were not run", () => {
  const rows = [
    { id: 'onednn', engine: 'tfjs onednn', status: 'ok', msPerStep: 100, peakRssMiB: 600 },
    { id: 'torch-nchw', engine: 'PyTorch NCHW', status: 'ok', msPerStep: 120, peakRssMiB: 500 },
    {
      id: 'torch-channels-last',
      engine: 'PyTorch channels_last',
      status: 'ok',
      msPerStep: 90,
      peakRssMiB: 450,
    },
  ];
  const section = (id: string, r: typeof rows) => ({
    id,
    title: id,
    status: 'ok' as const,
    columns: [],
    rows: r,
  });
  const targets = checkTargets([
    section('train-224-b32', rows),
    section('infer-224-b8', rows.slice(0, 1)),
  ]).rows;
  const byName = Object.fromEntries(targets.map((t) => [t.target, t]));
  assert.equal(byName['train-224-b32: speed vs torch'].peer, 'PyTorch channels_last');
  assert.equal(byName['train-224-b32: speed vs torch'].value, 0.9);
  assert.equal(byName['train-224-b32: speed vs torch'].verdict, 'missed');
  assert.equal(byName['train-224-b32: rss vs torch'].value, 600 / 450);
  assert.equal(byName['train-224-b32: rss vs torch'].verdict, 'met');
  assert.equal(byName['infer-224-b8: speed vs onnxruntime'].status, 'skipped');
  assert.equal(byName['infer-224-b8: speed vs torch'].reason, 'torch did not run');
  assert.equal(byName['train-224-b8: speed vs torch'], undefined);
});

test('a slow step shrinks the plan to its budget, never below 3 timed steps', () => {
  const plan = { warmup: 2, reps: 5, budgetMs: 60_000 };
  assert.deepEqual(fitBudget(1_000, plan), plan);
  assert.deepEqual(fitBudget(9_000, plan), { warmup: 1, reps: 5 });
  assert.deepEqual(fitBudget(12_000, plan), { warmup: 1, reps: 4 });
  assert.deepEqual(fitBudget(30_000, plan), { warmup: 1, reps: 3 });
  assert.deepEqual(fitBudget(30_000, { warmup: 1, reps: 2, budgetMs: 1 }), { warmup: 1, reps: 2 });
});
