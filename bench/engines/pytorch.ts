import { join } from 'node:path';
import { runJsonProcess } from '../spawn';
import type { BenchContext, EngineResult, Plan, Probe, Workload } from '../types';
import type { Engine } from './engine';

/** The PyTorch twin of googlenet (same layers, same FLOPs), timed by Python itself. */
const SCRIPT = join(__dirname, '..', '..', '..', 'bench', 'torch_googlenet.py');

/** Debian's python3 has torch; INCEPTION_BENCH_PYTHON picks another interpreter. */
export function pythonPath(): string {
  return process.env.INCEPTION_BENCH_PYTHON || '/usr/bin/python3';
}

/** Runs bench/torch_googlenet.py with `args`; its one JSON line comes back as is, or as a failure. */
export async function runTorchScript(args: string[], ctx: BenchContext): Promise<any> {
  const result = await runJsonProcess(pythonPath(), [SCRIPT, ...args], {
    env: { ...process.env, OMP_NUM_THREADS: String(ctx.threads) },
    timeoutMs: ctx.childTimeoutMs,
  });
  return result.ok ? result.value : result;
}

/** Whether `import torch` works, once per run. */
export function probeTorch(ctx: BenchContext): Promise<Probe> {
  return ctx.once('probe:torch', async () => {
    const answer = await runTorchScript(['--probe'], ctx);
    return answer.ok ? { ok: true, versions: answer.versions } : { ok: false, reason: answer.reason };
  });
}

/** How PyTorch runs: eager, torch.compile (inductor), or eager under CPU autocast to bf16. */
export type TorchVariant = 'eager' | 'compile' | 'bf16';

async function measureTorch(
  layout: 'nchw' | 'channels_last',
  variant: TorchVariant,
  w: Workload,
  plan: Plan,
  ctx: BenchContext,
): Promise<EngineResult> {
  const answer = await runTorchScript(
    [
      ...['--mode', w.mode === 'inference' ? 'infer' : 'train', '--layout', layout, '--variant', variant],
      ...['--size', String(w.size), '--batch', String(w.batch), '--classes', String(w.classes)],
      ...['--width', String(w.width)],
      ...['--threads', String(ctx.threads), '--warmup', String(plan.warmup), '--reps', String(plan.reps)],
      ...['--budget-s', String((plan.budgetMs ?? 0) / 1000)],
    ],
    ctx,
  );
  if (!answer.ok) return { ok: false, reason: answer.reason, missing: answer.missing === true };
  return {
    ok: true,
    timesMs: answer.times_ms,
    warmup: answer.warmup,
    peakRssBytes: answer.peak_rss_bytes ?? null,
    threads: answer.threads,
    versions: answer.versions,
    notes: answer.notes ?? [],
  };
}

/**
 * PyTorch in one memory layout and variant: `nchw` (contiguous) or `channels_last` (NHWC strides, oneDNN's
 * favourite), eager; and, in channels_last, `torch.compile` and bf16 autocast.
 */
export function torchEngine(layout: 'nchw' | 'channels_last', variant: TorchVariant = 'eager'): Engine {
  const layoutName = layout === 'nchw' ? 'NCHW' : 'channels_last';
  const variants = {
    eager: { id: layout === 'nchw' ? 'torch-nchw' : 'torch-channels-last', label: `PyTorch ${layoutName}` },
    compile: { id: 'torch-compile', label: `PyTorch torch.compile ${layoutName}` },
    bf16: { id: 'torch-bf16', label: `PyTorch bf16 autocast ${layoutName}` },
  };
  return {
    ...variants[variant],
    precision: variant === 'bf16' ? 'bf16' : 'fp32',
    supports: (w) => w.model === 'googlenet',
    // Compiling takes a minute or more: left out of --quick.
    heavy: () => variant === 'compile',
    probe: probeTorch,
    measure: (w, plan, ctx) => measureTorch(layout, variant, w, plan, ctx),
  };
}
