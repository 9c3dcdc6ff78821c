import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { externalSection } from '../bench/external_section';
import { forwardFlopsPerImage } from '../bench/flops';
import { peakShare } from '../bench/peak';
import { formatTable } from '../bench/report';
import { checkTargets } from '../bench/targets';
import { fitBudget } from '../bench/timing';
import type { BenchContext } from '../bench/types';
import { loadAddon } from '../src/backend/addon';
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
    [
      ...['onednn', 'onednn-bf16', 'onednn-int8', 'onednn-tfjs', 'tfjs-cpu', 'tfjs-wasm'],
      ...[
        'onnxruntime',
        'onnxruntime-int8',
        'torch-nchw',
        'torch-channels-last',
        'torch-compile',
        'torch-bf16',
      ],
    ],
  );
  // The peak of every precision this CPU has was measured in the same run, with oneDNN's ISA.
  if (report.peaks.ok) {
    assert.ok(report.peaks.peaks.fp32.gflops > 0, JSON.stringify(report.peaks));
    assert.match(report.peaks.cpuIsa, /^(avx|sse|0x)/);
  }
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
  // Training: onednn in fp32 and bf16 and the PyTorch variants; wasm, cpu, onnxruntime and int8 do not train here.
  assert.deepEqual(Object.keys(trainRows), [
    ...['onednn', 'onednn-bf16', 'torch-nchw', 'torch-channels-last', 'torch-compile', 'torch-bf16'],
  ]);
  for (const rows of [inferRows, trainRows]) {
    for (const id of ['torch-nchw', 'torch-channels-last', 'torch-bf16']) {
      assert.equal(rows[id].status, 'missing');
      assert.match(rows[id].reason, /nonexistent\/python3/);
      assert.equal(rows[id].msPerImage, undefined);
    }
    // torch.compile takes minutes to compile: not in --quick.
    assert.equal(rows['torch-compile'].status, 'skipped');
  }
  for (const row of Object.values(inferRows))
    assert.ok(['fp32', 'bf16', 'int8'].includes(row.precision), row.id);
  assert.equal(inferRows['onednn-int8'].precision, 'int8');
  // The int8 peer: onnxruntime's QDQ model of the same export, or missing with a reason.
  const qdq = inferRows['onnxruntime-int8'];
  assert.ok(qdq.status === 'ok' || qdq.reason, JSON.stringify(qdq));
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
  // Ratios are against onednn fp32 (the plan, for inference); without the plan, against its tfjs kernels.
  const reference = inferRows.onednn.status === 'ok' ? inferRows.onednn : inferRows['onednn-tfjs'];
  assert.equal(infer.referenceEngine, reference.id);
  assert.equal(inferRows['tfjs-cpu'].ratio, inferRows['tfjs-cpu'].msPerStep / reference.msPerStep);
  if (inferRows.onednn.status !== 'ok') {
    assert.ok(['missing', 'failed'].includes(inferRows.onednn.status) && inferRows.onednn.reason);
    assert.match(
      infer.notes.join('\n'),
      /onednn did not run: the "vs onednn" column is against onednn \(tfjs kernels\)/,
    );
  }
  if (loadAddon()) {
    // Training on onednn is the tfjs kernels: it runs wherever the addon is built.
    assert.equal(trainRows.onednn.status, 'ok', JSON.stringify(trainRows.onednn));
    assert.equal(trainRows.onednn.ratio, 1);
  }
  // Targets of sections that ran are listed; those whose rows did not run say why.
  const torchTarget = report.targets.rows.find(
    (t: { target: string }) => t.target === 'infer-224-b1: onednn vs torch-fp32',
  );
  assert.equal(torchTarget.status, 'skipped');
  assert.match(torchTarget.reason, /nonexistent\/python3|onednn: (missing|failed)/);
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

test("targets read our row and the peer's: PyTorch's fastest fp32 variant, int8 vs int8, bf16 vs our fp32", () => {
  const row = (id: string, msPerStep: number, engine = id) => ({ id, engine, status: 'ok', msPerStep });
  const section = (id: string, rows: Record<string, unknown>[]) => ({
    id,
    title: id,
    status: 'ok' as const,
    columns: [],
    rows,
  });
  const infer8 = [
    row('onednn', 10),
    row('onednn-bf16', 5),
    row('onednn-int8', 4),
    row('onnxruntime', 12),
    row('onnxruntime-int8', 3),
    row('torch-nchw', 30),
    row('torch-compile', 9, 'PyTorch torch.compile'),
    // faster, but bf16: not an fp32 peer
    row('torch-bf16', 2),
  ];
  const train8 = [
    row('onednn', 100),
    { id: 'onednn-bf16', status: 'missing', reason: 'not in this build' },
    row('torch-channels-last', 120, 'PyTorch channels_last'),
    row('torch-bf16', 80),
  ];
  const targets = checkTargets([section('infer-224-b8', infer8), section('train-224-b8', train8)]).rows;
  const byName = Object.fromEntries(targets.map((t) => [t.target, t]));
  assert.deepEqual(
    targets.map((t) => t.target),
    [
      'infer-224-b8: onednn vs onnxruntime',
      'infer-224-b8: onednn vs torch-fp32',
      'infer-224-b8: onednn-int8 vs onnxruntime-int8',
      'infer-224-b8: onednn-bf16 vs onednn',
      'train-224-b8: onednn-bf16 vs torch-bf16',
      'train-224-b8: onednn vs torch-fp32',
    ],
  );
  assert.equal(byName['infer-224-b8: onednn vs onnxruntime'].value, 1.2);
  assert.equal(byName['infer-224-b8: onednn vs onnxruntime'].verdict, 'met');
  assert.equal(byName['infer-224-b8: onednn vs torch-fp32'].peer, 'PyTorch torch.compile');
  assert.equal(byName['infer-224-b8: onednn vs torch-fp32'].value, 0.9);
  assert.equal(byName['infer-224-b8: onednn vs torch-fp32'].verdict, 'missed');
  assert.equal(byName['infer-224-b8: onednn-int8 vs onnxruntime-int8'].value, 0.75);
  assert.equal(byName['infer-224-b8: onednn-bf16 vs onednn'].value, 2);
  assert.equal(byName['infer-224-b8: onednn-bf16 vs onednn'].goal, '≥ 1.5');
  assert.equal(byName['train-224-b8: onednn-bf16 vs torch-bf16'].status, 'skipped');
  assert.equal(
    byName['train-224-b8: onednn-bf16 vs torch-bf16'].reason,
    'onednn-bf16: missing (not in this build)',
  );
  assert.equal(byName['train-224-b8: onednn vs torch-fp32'].value, 1.2);
});

test("serve target: p50 of single-image requests at 224x224 over the same run's batch-1 inference time", () => {
  const serveRows = [
    { status: 'ok', imageSize: 32, connections: 1, latencyP50Ms: 1 },
    { status: 'ok', imageSize: 224, connections: 16, latencyP50Ms: 200 },
    { status: 'ok', imageSize: 224, connections: 1, latencyP50Ms: 13 },
  ];
  const sections = [
    {
      id: 'infer-224-b1',
      title: '',
      status: 'ok' as const,
      columns: [],
      rows: [{ id: 'onednn', status: 'ok', msPerStep: 10 }],
    },
    { id: 'serve', title: '', status: 'ok' as const, columns: [], rows: serveRows },
  ];
  const serve = checkTargets(sections).rows.find((t) => t.metric === 'latency')!;
  assert.equal(serve.value, 1.3);
  assert.equal(serve.goal, '≤ 1.2');
  assert.equal(serve.verdict, 'missed');
  const alone = checkTargets(sections.slice(1)).rows;
  assert.equal(alone.length, 1);
  assert.match(alone[0].reason as string, /infer-224-b1 did not run in this bench/);
});

test('a slow step shrinks the plan to its budget, never below 3 timed steps', () => {
  const plan = { warmup: 2, reps: 5, budgetMs: 60_000 };
  assert.deepEqual(fitBudget(1_000, plan), plan);
  assert.deepEqual(fitBudget(9_000, plan), { warmup: 1, reps: 5 });
  assert.deepEqual(fitBudget(12_000, plan), { warmup: 1, reps: 4 });
  assert.deepEqual(fitBudget(30_000, plan), { warmup: 1, reps: 3 });
  assert.deepEqual(fitBudget(30_000, { warmup: 1, reps: 2, budgetMs: 1 }), { warmup: 1, reps: 2 });
});

test('FMA peak: fp32 always, bf16 and int8 exactly where the CPU flags have them; shares by precision', (t) => {
  const addon = loadAddon();
  if (!addon) {
    t.skip('the onednn addon is not built');
    return;
  }
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/));
  const fp32 = addon.fmaPeak('fp32', 0.05);
  assert.ok(fp32 && fp32.gflops > 0 && fp32.wallGflops > 0 && fp32.threads >= 1, JSON.stringify(fp32));
  assert.match(fp32.isa, flags.has('avx512f') ? /^avx512 / : /^avx2 /);
  assert.equal(addon.fmaPeak('bf16', 0.05) !== null, flags.has('avx512_bf16') && flags.has('avx512f'));
  assert.equal(addon.fmaPeak('int8', 0.05) !== null, flags.has('avx512_vnni') || flags.has('avx_vnni'));
  assert.throws(() => addon.fmaPeak('fp16' as 'fp32', 0.05), /precision must be fp32, bf16 or int8/);
  const peaks = {
    ok: true as const,
    cpuIsa: addon.cpuIsa,
    peaks: { fp32: { ...fp32, gflops: 400 }, bf16: null, int8: { ...fp32, gflops: 1600 } },
  };
  assert.equal(peakShare(100, 'fp32', peaks), 0.25);
  assert.equal(peakShare(100, 'int8', peaks), 0.0625);
  assert.equal(peakShare(100, 'bf16', peaks), null);
  assert.equal(peakShare(100, 'fp32', { ok: false, reason: 'no addon' }), null);
});
