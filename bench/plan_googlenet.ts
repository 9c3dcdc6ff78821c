// Times the native plan executor (native/plan.cc) on GoogLeNet at 224x224 against model.predict on the
// onednn backend and onnxruntime-node on the same network, in one process:
//   node dist/bench/plan_googlenet.js [batch ...] [--precision fp32|bf16|int8]
// The spec comes from the plan compiler (src/inference/plan_compile.ts); the executor is called directly so
// that creation and calibration are timed apart from runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAddon } from '../src/backend/addon';
import type { Precision } from '../src/backend/plan_spec';
import { registerOneDnnBackend } from '../src/backend/register';
import { tf } from '../src/index';
import { compileSpec } from '../src/inference/plan_compile';
import { buildModel } from '../src/models/registry';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

interface Timing {
  wall: number;
  cpu: number;
}

/**
 * Times each runner `reps` times after one warm-up call, interleaved (a, b, c, a, b, c, ...) so that load
 * from other processes falls on all of them alike; medians of wall and CPU ms (user + system, all threads).
 */
async function interleaved(runners: (() => unknown)[], reps: number): Promise<Timing[]> {
  for (const run of runners) await run();
  const wall: number[][] = runners.map(() => []);
  const cpu: number[][] = runners.map(() => []);
  for (let i = 0; i < reps; i++) {
    for (const [r, run] of runners.entries()) {
      const start = process.hrtime.bigint();
      const used = process.cpuUsage();
      await run();
      const delta = process.cpuUsage(used);
      wall[r].push(Number(process.hrtime.bigint() - start) / 1e6);
      cpu[r].push((delta.user + delta.system) / 1e3);
    }
  }
  return runners.map((_, r) => ({ wall: median(wall[r]), cpu: median(cpu[r]) }));
}

/** onnxruntime-node on the project's ONNX export of `model`: a function running one batch. */
async function ortRunner(model: tf.LayersModel, batch: number, input: Float32Array) {
  const { exportOnnx } = require('../src/export/onnx');
  const file = path.join(os.tmpdir(), `plan_googlenet_${process.pid}.onnx`);
  if (!fs.existsSync(file)) {
    const preprocessing = { inputShape: [224, 224, 3], mean: [0, 0, 0], std: [1, 1, 1], resize: 'fill' };
    const labels = Array.from({ length: 10 }, (_, i) => `c${i}`);
    await exportOnnx(model, { model: 'googlenet', widthMultiplier: 1, labels, preprocessing }, file);
  }
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: Number(process.env.OMP_NUM_THREADS ?? os.cpus().length),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [batch, 224, 224, 3]) };
  return { run: () => session.run(feeds), release: () => session.release() };
}

async function main() {
  const args = process.argv.slice(2);
  const precisionAt = args.indexOf('--precision');
  const precision = (precisionAt >= 0 ? args.splice(precisionAt, 2)[1] : 'fp32') as Precision;
  const noOrt = args.includes('--no-ort');
  const batches = args.filter((a) => /^\d+$/.test(a)).map(Number);
  registerOneDnnBackend();
  await tf.setBackend('onednn');
  const addon = loadAddon();
  if (!addon) throw new Error('plan_googlenet: the onednn addon is not built');
  const model = buildModel('googlenet', { inputShape: [224, 224, 3], numClasses: 10 });
  console.log(
    `isa ${addon.cpuIsa}, threads ${addon.numThreads()}, load ${os.loadavg().map((v) => v.toFixed(2))}`,
  );
  for (const batch of batches.length ? batches : [1, 8, 32]) {
    const reps = batch === 1 ? 15 : batch === 8 ? 5 : 3;
    const input = Float32Array.from({ length: batch * 224 * 224 * 3 }, (_, i) => Math.sin(i * 0.37));
    const spec = compileSpec(model, { batch, precision });
    if (precision === 'int8') {
      const calibrate = addon.planCreate({ ...spec, precision: 'fp32', calibrate: true });
      addon.planRun(calibrate, input, new Float32Array(batch * 10));
      const stats = addon.planStats(calibrate);
      addon.planRelease(calibrate);
      spec.ranges = Array.from({ length: spec.nodes.length + 1 }, (_, t) => [stats[2 * t], stats[2 * t + 1]]);
    }
    const createStart = Date.now();
    const plan = addon.planCreate(spec);
    const createMs = Date.now() - createStart;
    const output = new Float32Array(batch * 10);
    const x = tf.tensor4d(input, [batch, 224, 224, 3]);
    let expected: Float32Array = new Float32Array();
    const ort = noOrt ? null : await ortRunner(model, batch, input);
    const runners: (() => unknown)[] = [
      () => addon.planRun(plan, input, output),
      () => {
        const y = model.predict(x) as tf.Tensor;
        expected = y.dataSync() as Float32Array;
        y.dispose();
      },
    ];
    if (ort) runners.push(ort.run);
    const [planMs, predictMs, ortMs = { wall: Number.NaN, cpu: Number.NaN }] = await interleaved(
      runners,
      reps,
    );
    await ort?.release();
    x.dispose();
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < output.length; i++) {
      diff = Math.max(diff, Math.abs(output[i] - expected[i]));
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    const info = addon.planInfo(plan);
    addon.planRelease(plan);
    const per = (ms: Timing) => `${(ms.wall / batch).toFixed(2)} (cpu ${(ms.cpu / batch).toFixed(2)})`;
    console.log(
      `batch ${batch} ${precision}: plan ${per(planMs)} ms/image, predict ${per(predictMs)}, onnxruntime ${per(ortMs)}; ` +
        `vs predict rel diff ${(diff / scale).toExponential(1)}; create ${createMs} ms, arena ${(info.arenaBytes / 2 ** 20).toFixed(1)} MiB, ${info.layout}`,
    );
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`plan_googlenet: ${(e as Error).message}`);
    process.exit(1);
  });
}
