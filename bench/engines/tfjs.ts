import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { buildBenchModel } from '../bench_model';
import { peakRssBytes, timeSteps } from '../timing';
import type { ChildRequest, EngineResult, Probe, Workload } from '../types';
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
  scope: Pick<Engine, 'supports' | 'heavy'>,
): Engine {
  return {
    id,
    label,
    ...scope,
    probe: (ctx) =>
      ctx.once(`probe:${id}`, () =>
        runNodeChild<Probe>({ engine: 'tfjs', backend, threads: ctx.threads, probe: true }, ctx),
      ),
    measure: (workload, plan, ctx) =>
      runNodeChild<EngineResult>({ engine: 'tfjs', backend, threads: ctx.threads, workload, plan }, ctx),
  };
}

/** Version and thread count of the native addon, when the project has one (src/backend/addon). */
function onednnAddonInfo(): { versions: Record<string, string>; threads?: number } {
  const file = join(__dirname, '..', '..', 'src', 'backend', 'addon.js');
  if (!existsSync(file)) return { versions: {} };
  const addon = require(file).loadAddon?.();
  if (!addon) return { versions: {} };
  return { versions: { oneDNN: String(addon.dnnlVersion) }, threads: addon.numThreads?.() };
}

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
  }
  if (request.probe) return { ok: true, versions, threads, notes };
  const { leaked, ...timed } = await timeTfjsWorkload(tf, request);
  // Engine-wide notes travel with the probe; a measurement only adds what it found.
  const found = leaked === 0 ? [] : [`tf.memory().numTensors grew by ${leaked} over the timed steps`];
  return { ...timed, threads, versions, notes: found };
}

async function timeTfjsWorkload(
  tf: typeof tfTypes,
  request: ChildRequest,
): Promise<{ ok: true; timesMs: number[]; warmup: number; peakRssBytes: number | null; leaked: number }> {
  const w = request.workload as Workload;
  const plan = request.plan ?? { warmup: 1, reps: 3 };
  const model = await buildBenchModel(w);
  const x = tf.randomNormal([w.batch, w.size, w.size, 3]);
  let step: () => Promise<unknown>;
  if (w.mode === 'inference') {
    step = async () => {
      const y = model.predict(x) as tfTypes.Tensor;
      await y.data();
      y.dispose();
    };
  } else {
    // A Keras training step as `fit` runs it: forward, categorical cross-entropy, backward, Adam update,
    // with the Adam that `inception train` uses (FusedAdamOptimizer: one native pass per variable on onednn;
    // tfjs's own tf.train.adam runs about ten whole-array kernels per variable).
    const { createOptimizer } = await import('../../src/training/optimizers');
    model.compile({ optimizer: createOptimizer('adam', 1e-3), loss: 'categoricalCrossentropy' });
    const labels = tf.tidy(() =>
      tf.oneHot(tf.randomUniform([w.batch], 0, w.classes, 'int32') as tfTypes.Tensor1D, w.classes),
    );
    step = () => model.trainOnBatch(x, labels);
  }
  let tensorsBefore = 0;
  const { timesMs, warmup } = await timeSteps(step, plan, () => {
    tensorsBefore = tf.memory().numTensors;
  });
  const leaked = tf.memory().numTensors - tensorsBefore;
  return { ok: true, timesMs, warmup, peakRssBytes: peakRssBytes(), leaked };
}
