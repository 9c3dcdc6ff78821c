import { runNodeChild } from './engines/node_child';
import type { BenchContext, ChildRequest, Precision } from './types';

/** One precision's peak, as native/peak.cc measured it; null where the CPU has no instruction for it. */
export type PrecisionPeak = { gflops: number; wallGflops: number; isa: string; threads: number } | null;

export type Peaks =
  | { ok: true; cpuIsa: string; peaks: Record<Precision, PrecisionPeak> }
  | { ok: false; reason: string };

const PRECISIONS: Precision[] = ['fp32', 'bf16', 'int8'];

/** Seconds the peak loop runs per precision (a smoke run takes less). */
const PEAK_SECONDS = { normal: 1.5, quick: 0.3 };

/** The FMA peaks of this machine on the bench's thread count, measured once per run in a child process. */
export function fmaPeaks(ctx: BenchContext): Promise<Peaks> {
  return ctx.once('peaks', () => {
    ctx.log(`measuring the multiply-accumulate peak (fp32, bf16, int8) on ${ctx.threads} threads`);
    return runNodeChild<Peaks>(
      { engine: 'peak', threads: ctx.threads, seconds: PEAK_SECONDS[ctx.quick ? 'quick' : 'normal'] },
      ctx,
    );
  });
}

/** In the child: the addon's fmaPeak for each precision, and oneDNN's ISA. */
export async function measurePeaks(request: ChildRequest): Promise<Peaks> {
  const { loadAddon } = await import('../src/backend/addon');
  const addon = loadAddon();
  if (!addon) return { ok: false, reason: 'the onednn addon is not built' };
  if (typeof addon.fmaPeak !== 'function')
    return { ok: false, reason: 'the onednn addon has no fmaPeak (rebuild it)' };
  const peaks = Object.fromEntries(
    PRECISIONS.map((p) => [p, addon.fmaPeak(p, request.seconds ?? PEAK_SECONDS.normal)]),
  ) as Record<Precision, PrecisionPeak>;
  return { ok: true, cpuIsa: addon.cpuIsa, peaks };
}

/** A row's achieved GFLOP/s as a share of the peak of its precision; null where there is none. */
export function peakShare(gflops: number, precision: Precision, peaks: Peaks): number | null {
  if (!peaks.ok) return null;
  const peak = peaks.peaks[precision];
  return peak ? gflops / peak.gflops : null;
}
