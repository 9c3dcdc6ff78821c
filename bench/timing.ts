import { readFileSync } from 'node:fs';
import type { Plan } from './types';

/** Runs `plan.warmup` untimed steps, then returns the wall time of each of `plan.reps` timed steps (ms). */
export async function timeSteps(step: () => Promise<unknown>, plan: Plan): Promise<number[]> {
  for (let i = 0; i < plan.warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < plan.reps; i++) {
    const start = performance.now();
    await step();
    times.push(performance.now() - start);
  }
  return times;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Peak resident set size of this process in bytes: VmHWM on Linux, else getrusage's maxRSS. */
export function peakRssBytes(): number | null {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  const maxRss = process.resourceUsage().maxRSS;
  return maxRss > 0 ? maxRss * 1024 : null;
}
