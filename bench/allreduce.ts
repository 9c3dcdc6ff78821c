// `inception bench --allreduce`, run under mpirun: the allreduce of a step's fused gradient buffer (the
// seed GoogLeNet's ~24 MB, and the benchmarked model's own size), as bandwidth, and its share of a real
// data-parallel training step measured in the same run.
import { performance } from 'node:perf_hooks';
import { loadAddon } from '../src/backend/addon';
import type { Collective } from '../src/distributed/collective';
import * as inception from '../src/index';
import { describeMachine, type Machine } from './machine';

export interface AllreduceOptions {
  width: number;
  inputSize: number;
  classes: number;
  /** Global batch of the timed training steps (split over the ranks). */
  batchSize: number;
  reps: number;
  log: (message: string) => void;
}

export interface AllreduceRow {
  buffer: string;
  floats: number;
  megabytes: number;
  medianMs: number;
  /** Buffer bytes / time (what one rank's gradient sees), and NCCL-tests' bus bandwidth: x 2(n-1)/n. */
  algorithmGBps: number;
  busGBps: number;
}

export interface AllreduceReport {
  ranks: number;
  localRanks: number;
  mpiLibrary: string;
  machine: Machine;
  engine: { backend: string; isa: string | null; threadsPerRank: number | null };
  model: { name: string; width: number; inputSize: number; classes: number; params: number };
  rows: AllreduceRow[];
  step: {
    globalBatch: number;
    medianStepMs: number;
    /** The step's own allreduce (fused gradients + loss sums), waiting for the slower rank included. */
    medianAllreduceMs: number;
    allreduceShare: number;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median time of allreducing `floats` float32 values, each rep started together (after a barrier). */
async function timeAllreduce(collective: Collective, floats: number, reps: number): Promise<number> {
  const buffer = new Float32Array(floats).fill(1);
  await collective.allreduceSum(buffer); // warm-up: shared-memory segments, registration
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    await collective.barrier();
    const start = performance.now();
    await collective.allreduceSum(buffer);
    times.push(performance.now() - start);
  }
  // Rank 0's times decide: every rank reports the same number.
  const shared = new Float64Array([median(times)]);
  await collective.broadcast(shared, 0);
  return shared[0];
}

export async function runAllreduceBench(
  collective: Collective & { mpiLibrary?: string },
  options: AllreduceOptions,
): Promise<AllreduceReport> {
  const { tf } = inception;
  const backend = await inception.backendReady;
  const seedParams = inception.googlenet({ numClasses: 10 }).countParams();
  const model = inception.googlenet({
    inputShape: [options.inputSize, options.inputSize, 3],
    numClasses: options.classes,
    widthMultiplier: options.width,
    dropout: 0,
    seed: 1,
  });
  const params = model.countParams();
  const sizes: [string, number][] = [
    [`googlenet (10 classes), ${seedParams.toLocaleString('en-US')} params`, seedParams],
  ];
  if (params !== seedParams) sizes.push([`this model, ${params.toLocaleString('en-US')} params`, params]);
  const rows: AllreduceRow[] = [];
  for (const [label, floats] of sizes) {
    options.log(`allreduce of ${label} (${((floats * 4) / 1e6).toFixed(1)} MB) x ${options.reps}`);
    const ms = await timeAllreduce(collective, floats, options.reps);
    const algorithmGBps = (floats * 4) / (ms / 1000) / 1e9;
    rows.push({
      buffer: label,
      floats,
      megabytes: (floats * 4) / 1e6,
      medianMs: ms,
      algorithmGBps,
      busGBps: (algorithmGBps * 2 * (collective.size - 1)) / collective.size,
    });
  }

  options.log(
    `training steps: global batch ${options.batchSize} at ${options.inputSize}x${options.inputSize}, ${options.reps} timed after 1 warm-up`,
  );
  model.compile({ optimizer: inception.createOptimizer('adam', 1e-3), loss: 'categoricalCrossentropy' });
  const parallel = await inception.DataParallel.create(model, collective);
  const share = inception.rankSlice(options.batchSize, collective.rank, collective.size);
  const local = share.end - share.start;
  const xs = tf.randomUniform([local, options.inputSize, options.inputSize, 3], 0, 1, 'float32', 3);
  const ys = tf.oneHot(tf.zeros([local], 'int32') as inception.tf.Tensor1D, options.classes);
  const steps: { stepMs: number; allreduceMs: number }[] = [];
  for (let i = 0; i <= options.reps; i++) {
    collective.step = `bench step ${i}`;
    await collective.barrier();
    await parallel.trainOnBatch(xs, ys);
    const last = parallel.lastStep;
    if (i > 0 && last) steps.push({ stepMs: last.stepMs, allreduceMs: last.allreduceMs });
  }
  tf.dispose([xs, ys]);
  const shared = new Float64Array([
    median(steps.map((s) => s.stepMs)),
    median(steps.map((s) => s.allreduceMs)),
  ]);
  await collective.broadcast(shared, 0);
  const addon = loadAddon();
  return {
    ranks: collective.size,
    localRanks: collective.localSize,
    mpiLibrary: collective.mpiLibrary ?? 'none',
    machine: describeMachine(),
    engine: {
      backend,
      isa: backend === 'onednn' && addon ? addon.cpuIsa : null,
      threadsPerRank: backend === 'onednn' && addon ? addon.numThreads() : null,
    },
    model: {
      name: 'googlenet',
      width: options.width,
      inputSize: options.inputSize,
      classes: options.classes,
      params,
    },
    rows,
    step: {
      globalBatch: options.batchSize,
      medianStepMs: shared[0],
      medianAllreduceMs: shared[1],
      allreduceShare: shared[1] / shared[0],
    },
  };
}

export function formatAllreduceReport(r: AllreduceReport): string {
  const m = r.machine;
  const lines = [
    `inception bench --allreduce: ${r.ranks} ranks (${r.localRanks} on this node), ${r.mpiLibrary}; engine ${r.engine.backend}${r.engine.isa ? ` (${r.engine.isa})` : ''}, ${r.engine.threadsPerRank ?? '?'} thread(s) per rank`,
    `machine: ${m.cpu}, ${m.cores} cores (${m.simd.join(' ')}), ${m.memoryGiB} GiB, node ${m.node}; load average at start ${m.loadAverageAtStart.toFixed(2)}${m.loadAverageAtStart > 0.5 ? ' (the machine was busy: timings are noisy)' : ''}`,
    '',
    '== in-place float32 SUM allreduce (median after a barrier)',
  ];
  const width = Math.max(...r.rows.map((row) => row.buffer.length));
  lines.push(`${'buffer'.padEnd(width)}       MB         ms   GB/s   bus GB/s`);
  for (const row of r.rows) {
    lines.push(
      `${row.buffer.padEnd(width)}  ${row.megabytes.toFixed(1).padStart(7)}  ${row.medianMs.toFixed(1).padStart(9)}  ${row.algorithmGBps.toFixed(2).padStart(5)}  ${row.busGBps.toFixed(2).padStart(9)}`,
    );
  }
  const s = r.step;
  lines.push(
    '',
    `== data-parallel training step: googlenet width ${r.model.width}, ${r.model.inputSize}x${r.model.inputSize}, ${r.model.classes} classes, global batch ${s.globalBatch} (${r.model.params.toLocaleString('en-US')} params, Adam)`,
    `step ${s.medianStepMs.toFixed(1)} ms; its one fused allreduce ${s.medianAllreduceMs.toFixed(1)} ms = ${(100 * s.allreduceShare).toFixed(1)}% of the step (waiting for the slower rank included)`,
  );
  return lines.join('\n');
}
