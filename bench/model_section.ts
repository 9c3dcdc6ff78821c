import { BENCH_MODEL, buildBenchModel, type ModelSpec, specKey } from './bench_model';
import { ENGINES, FALLBACK_REFERENCE_ENGINE, REFERENCE_ENGINE } from './engines';
import type { Engine } from './engines/engine';
import { forwardFlopsPerImage, TRAINING_FLOP_FACTOR } from './flops';
import { fmaPeaks, peakShare } from './peak';
import { median } from './timing';
import type { BenchContext, Column, Mode, Plan, Section, SectionReport, Workload } from './types';

const COLUMNS: Column[] = [
  { key: 'engine', label: 'engine' },
  { key: 'precision', label: 'precision' },
  { key: 'msPerImage', label: 'ms/image' },
  { key: 'imagesPerSecond', label: 'images/s' },
  { key: 'gflops', label: 'GFLOP/s' },
  { key: 'peakPercent', label: '% peak', digits: 1 },
  { key: 'ratio', label: `vs ${REFERENCE_ENGINE}`, digits: 2 },
  { key: 'peakRssMiB', label: 'peak RSS MiB', digits: 0 },
  { key: 'threads', label: 'threads' },
  { key: 'reps', label: 'reps' },
];

/** Forward FLOPs per image and parameters, counted once per run on the tfjs model itself. */
export function forwardFlops(spec: ModelSpec, ctx: BenchContext): Promise<{ flops: number; params: number }> {
  return ctx.once(`flops:${specKey(spec)}`, async () => {
    const model = await buildBenchModel(spec);
    const result = { flops: forwardFlopsPerImage(model), params: model.countParams() };
    model.dispose();
    return result;
  });
}

/** Longest a measurement should take before its engine cuts warm-up and reps (to no fewer than 3). */
const MEASUREMENT_BUDGET_MS = 60_000;

/** Timed steps per measurement unless --reps says otherwise. */
export const TIMED_REPS = { normal: 5, slow: 3, quick: 2 };

/**
 * Warm-up and timed steps: 2 + TIMED_REPS.normal, 1 + slow for slow engines, 1 + quick under --quick.
 * A step so slow that the plan would exceed MEASUREMENT_BUDGET_MS shrinks it (see Plan.budgetMs).
 */
function planFor(ctx: BenchContext, heavy: boolean): Plan {
  const budgetMs = MEASUREMENT_BUDGET_MS;
  if (ctx.quick) return { warmup: 1, reps: ctx.reps ?? TIMED_REPS.quick, budgetMs };
  return heavy
    ? { warmup: 1, reps: ctx.reps ?? TIMED_REPS.slow, budgetMs }
    : { warmup: 2, reps: ctx.reps ?? TIMED_REPS.normal, budgetMs };
}

async function measureRow(engine: Engine, w: Workload, flopsPerImage: number, ctx: BenchContext, id: string) {
  const base = { engine: engine.label, id: engine.id, precision: engine.precision };
  const heavy = engine.heavy?.(w) ?? false;
  if (ctx.engines && !ctx.engines.includes(engine.id))
    return { ...base, status: 'skipped', reason: 'not in --engines' };
  if (ctx.quick && heavy) return { ...base, status: 'skipped', reason: 'slow: left out of --quick' };
  const probe = await engine.probe(ctx);
  if (!probe.ok) return { ...base, status: 'missing', reason: probe.reason };
  const plan = planFor(ctx, heavy);
  ctx.log(`${id}: ${engine.label} (${plan.warmup} warm-up + ${plan.reps} timed steps, fewer if slow)`);
  const result = await engine.measure(w, plan, ctx);
  if (!result.ok) return { ...base, status: result.missing ? 'missing' : 'failed', reason: result.reason };
  const msPerStep = median(result.timesMs);
  const imagesPerSecond = (1000 * w.batch) / msPerStep;
  return {
    ...base,
    status: 'ok',
    msPerStep,
    msPerImage: msPerStep / w.batch,
    imagesPerSecond,
    gflops: (flopsPerImage * imagesPerSecond) / 1e9,
    peakRssMiB: result.peakRssBytes === null ? null : result.peakRssBytes / 2 ** 20,
    threads: result.threads,
    reps: result.timesMs.length,
    warmup: result.warmup,
    timesMs: result.timesMs,
    versions: result.versions,
    ...(result.notes?.length ? { notes: result.notes } : {}),
  };
}

/**
 * The row every ratio is against: REFERENCE_ENGINE, or where it did not run (the plan not in the build)
 * the tfjs-kernel onednn row, with a note saying so.
 */
export function referenceRow(rows: Record<string, unknown>[]): {
  reference?: Record<string, unknown>;
  notes: string[];
} {
  const ran = (id: string) => rows.find((r) => r.id === id && r.status === 'ok');
  const reference = ran(REFERENCE_ENGINE);
  if (reference) return { reference, notes: [] };
  const fallback = ran(FALLBACK_REFERENCE_ENGINE);
  if (!fallback) return { notes: [] };
  return {
    reference: fallback,
    notes: [
      `${REFERENCE_ENGINE} did not run: the "vs ${REFERENCE_ENGINE}" column is against ${fallback.engine}`,
    ],
  };
}

/**
 * One measurement of the model on every engine that supports it, one engine after another, each in its own
 * process. `ratio` = engine's time / onednn's time for the same work: above 1 means onednn is faster.
 */
export function modelSection(
  mode: Mode,
  size: number,
  batch: number,
  options: { slow?: boolean } = {},
): Section {
  const id = `${mode === 'inference' ? 'infer' : 'train'}-${size}-b${batch}`;
  const what = mode === 'inference' ? 'Inference' : 'Training step (forward, backward, Adam)';
  const title = `${what} at ${size}x${size}, batch ${batch}`;
  return {
    id,
    title,
    slow: options.slow,
    async run(ctx: BenchContext): Promise<SectionReport> {
      const w: Workload = { mode, ...BENCH_MODEL, width: ctx.width, size, batch };
      const { flops } = await forwardFlops(w, ctx);
      const flopsPerImage = flops * (mode === 'training' ? TRAINING_FLOP_FACTOR : 1);
      const peaks = await fmaPeaks(ctx);
      const rows: Record<string, unknown>[] = [];
      for (const engine of ENGINES.filter((e) => e.supports(w))) {
        const row: Record<string, unknown> = await measureRow(engine, w, flopsPerImage, ctx, id);
        if (row.status === 'ok') {
          const share = peakShare(row.gflops as number, engine.precision, peaks);
          row.peakPercent = share === null ? null : 100 * share;
        }
        rows.push(row);
      }
      const { reference, notes } = referenceRow(rows);
      for (const row of rows) {
        if (row.status !== 'ok') continue;
        row.ratio = reference ? (row.msPerStep as number) / (reference.msPerStep as number) : null;
      }
      return {
        id,
        title,
        status: 'ok',
        workload: w,
        gflopPerImage: flopsPerImage / 1e9,
        referenceEngine: reference?.id ?? null,
        columns: COLUMNS,
        rows,
        notes,
      };
    },
  };
}
