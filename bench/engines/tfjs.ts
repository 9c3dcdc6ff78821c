import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import type { ActivationRanges, InferencePlan } from '../../src/inference/plan';
import { buildBenchModel } from '../bench_model';
import { CALIBRATION, randomNormalRanges } from '../calibration';
import { peakRssBytes, timeSteps } from '../timing';
import type { ChildRequest, EngineResult, Precision, Probe, Workload } from '../types';
import type { Engine } from './engine';
import { runNodeChild } from './node_child';

type TfjsBackend = NonNullable<ChildRequest['backend']>;

/**
 * A tfjs backend measured through the project's own path: the package's entry point with INCEPTION_BACKEND
 * set, and `buildModel`, so `onednn` is benchmarked exactly as users get it.
 */
export function tfjsEngine(
  backend: TfjsBackend,
  id: string,
  label: string,
  scope: Pick<Engine, 'supports' | 'heavy'> & {
    precision?: Precision;
    /** Inference through compilePlan (onednn only); training always runs the tfjs kernels. */
    planned?: boolean;
  },
): Engine {
  const { precision = 'fp32', planned, ...rest } = scope;
  const base = { engine: 'tfjs' as const, backend, precision, planned };
  return {
    id,
    label,
    precision,
    ...rest,
    probe: (ctx) =>
      ctx.once(`probe:${id}`, () => runNodeChild<Probe>({ ...base, threads: ctx.threads, probe: true }, ctx)),
    measure: (workload, plan, ctx) =>
      runNodeChild<EngineResult>({ ...base, threads: ctx.threads, workload, plan }, ctx),
  };
}

/** Version, thread count and oneDNN ISA of the native addon, when the project has one (src/backend/addon). */
function onednnAddonInfo(): { versions: Record<string, string>; threads?: number; isa?: string } {
  const file = join(__dirname, '..', '..', 'src', 'backend', 'addon.js');
  if (!existsSync(file)) return { versions: {} };
  const addon = require(file).loadAddon?.();
  if (!addon) return { versions: {} };
  return {
    versions: { oneDNN: String(addon.dnnlVersion) },
    threads: addon.numThreads?.(),
    isa: addon.cpuIsa,
  };
}

/** oneDNN ISAs with bf16 compute (AVX512_BF16, or AMX which implies it). */
const BF16_ISAS = ['avx512_core_bf16', 'avx512_core_amx'];

/** In the child: load the package on the backend, report versions and threads; then, unless probing, time the workload. */
export async function measureTfjs(request: ChildRequest): Promise<EngineResult | Probe> {
  const backend = request.backend ?? 'cpu';
  const tf = await import('@tensorflow/tfjs');
  const notes: string[] = [];
  let threads = request.threads;
  const versions: Record<string, string> = { tfjs: tf.version.tfjs };
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount(request.threads);
    versions['tfjs-backend-wasm'] = wasm.version_wasm;
  }
  // The package as users import it (its entry point also installs the frugal backward pass), with the
  // backend chosen the way a user chooses it.
  process.env.INCEPTION_BACKEND = backend;
  const { backendReady } = await import('../../src/index');
  await backendReady;
  if (tf.getBackend() !== backend) throw new Error(`asked for backend ${backend}, got ${tf.getBackend()}`);
  let isa: string | undefined;
  if (backend === 'cpu') {
    threads = 1;
    notes.push('pure JavaScript: one thread whatever the setting');
  } else if (backend === 'wasm') {
    threads = (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
    if (threads < request.threads)
      notes.push(`tfjs-backend-wasm runs ${threads} thread(s) in Node (no threaded build)`);
  } else {
    const info = onednnAddonInfo();
    Object.assign(versions, info.versions);
    threads = info.threads ?? threads;
    isa = info.isa;
  }
  if (request.precision === 'bf16' && isa && !BF16_ISAS.includes(isa))
    return {
      ok: false,
      missing: true,
      reason: `bf16: this CPU (oneDNN ISA ${isa}) lacks AVX512_BF16 and AMX`,
    };
  if (request.probe) return { ok: true, versions, threads, notes };
  const timed = await timeTfjsWorkload(tf, request);
  if (!timed.ok) return timed;
  const { leaked, found, ...result } = timed;
  // Engine-wide notes travel with the probe; a measurement only adds what it found.
  if (leaked !== 0) found.push(`tf.memory().numTensors grew by ${leaked} over the timed steps`);
  return { ...result, threads, versions, notes: found };
}

/** What a tfjs step needs: the step itself and what the row should say about how it ran. */
type Step =
  | { step: () => Promise<unknown>; notes: string[] }
  | { ok: false; reason: string; missing?: boolean };

/**
 * Inference through the planned path: compilePlan at the workload's batch and precision (int8 calibrated
 * first), its output checked against tfjs's once: fp32 must agree to 1e-3, every precision must be finite.
 */
async function plannedStep(
  tf: typeof tfTypes,
  model: tfTypes.LayersModel,
  x: tfTypes.Tensor,
  request: ChildRequest,
): Promise<Step> {
  const w = request.workload as Workload;
  const precision = request.precision ?? 'fp32';
  const { compilePlan, PlanUnsupportedError } = await import('../../src/inference/plan');
  const notes = [`planned path: compilePlan(model, { batch: ${w.batch}, precision: '${precision}' })`];
  let ranges: ActivationRanges | undefined;
  if (precision === 'int8') {
    try {
      ranges = randomNormalRanges(tf, model);
    } catch (e) {
      const reason = `calibration: ${(e as Error).message.split('\n')[0]}`;
      return { ok: false, reason, missing: e instanceof PlanUnsupportedError };
    }
    notes.push(`int8 ranges calibrated on ${CALIBRATION.batches * CALIBRATION.batch} random-normal images`);
  }
  let plan: InferencePlan;
  try {
    plan = compilePlan(model, { batch: w.batch, precision, ranges });
  } catch (e) {
    const reason = `compilePlan: ${(e as Error).message.split('\n')[0]}`;
    return { ok: false, reason, missing: e instanceof PlanUnsupportedError };
  }
  const input = x.dataSync() as Float32Array;
  const reference = (model.predict(x) as tfTypes.Tensor).dataSync() as Float32Array;
  const output = plan.run(input);
  let worst = 0;
  for (let i = 0; i < reference.length; i++) {
    if (!Number.isFinite(output[i])) return { ok: false, reason: `plan output ${i} is ${output[i]}` };
    worst = Math.max(worst, Math.abs(output[i] - reference[i]) / Math.max(1e-6, Math.abs(reference[i])));
  }
  if (precision === 'fp32' && worst > 1e-3)
    return { ok: false, reason: `plan output differs from tfjs by ${worst.toExponential(2)} (relative)` };
  notes.push(`largest relative difference from tfjs fp32 on the timed batch: ${worst.toExponential(1)}`);
  return {
    step: async () => {
      plan.run(input);
    },
    notes,
  };
}

/** The project's switch for the native kernels' compute precision (src/backend/precision.ts), if built. */
const PRECISION_MODULE = join(__dirname, '..', '..', 'src', 'backend', 'precision.js');

async function timeTfjsWorkload(
  tf: typeof tfTypes,
  request: ChildRequest,
): Promise<
  | {
      ok: true;
      timesMs: number[];
      warmup: number;
      peakRssBytes: number | null;
      leaked: number;
      found: string[];
    }
  | { ok: false; reason: string; missing?: boolean }
> {
  const w = request.workload as Workload;
  const plan = request.plan ?? { warmup: 1, reps: 3 };
  const model = await buildBenchModel(w);
  const x = tf.randomNormal([w.batch, w.size, w.size, 3]);
  let made: Step;
  if (w.mode === 'inference' && request.planned) {
    made = await plannedStep(tf, model, x, request);
  } else if (w.mode === 'inference') {
    made = {
      step: async () => {
        const y = model.predict(x) as tfTypes.Tensor;
        await y.data();
        y.dispose();
      },
      notes: request.backend === 'onednn' ? ['tfjs kernels: model.predict'] : [],
    };
  } else {
    const notes = request.backend === 'onednn' ? ['tfjs kernels: model.trainOnBatch'] : [];
    if (request.precision === 'bf16') {
      if (!existsSync(PRECISION_MODULE))
        return {
          ok: false,
          missing: true,
          reason: 'bf16 training needs setComputePrecision (src/backend/precision.ts), not in this build',
        };
      require(PRECISION_MODULE).setComputePrecision('bf16');
      notes.push("setComputePrecision('bf16'): convolutions and matmuls in bf16, weights and Adam in fp32");
    }
    // A Keras training step as `fit` runs it: forward, categorical cross-entropy, backward, Adam update,
    // with the Adam that `inception train` uses (FusedAdamOptimizer: one native pass per variable on onednn;
    // tfjs's own tf.train.adam runs about ten whole-array kernels per variable).
    const { createOptimizer } = await import('../../src/training/optimizers');
    model.compile({ optimizer: createOptimizer('adam', 1e-3), loss: 'categoricalCrossentropy' });
    const labels = tf.tidy(() =>
      tf.oneHot(tf.randomUniform([w.batch], 0, w.classes, 'int32') as tfTypes.Tensor1D, w.classes),
    );
    made = { step: () => model.trainOnBatch(x, labels), notes };
  }
  if ('ok' in made) return made;
  let tensorsBefore = 0;
  const { timesMs, warmup } = await timeSteps(made.step, plan, () => {
    tensorsBefore = tf.memory().numTensors;
  });
  const leaked = tf.memory().numTensors - tensorsBefore;
  return { ok: true, timesMs, warmup, peakRssBytes: peakRssBytes(), leaked, found: made.notes };
}
