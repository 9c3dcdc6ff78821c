import { readFileSync } from 'node:fs';
import type { Plan } from './types';

/** The plan that fits the budget, given how long one step took (see Plan.budgetMs). */
export function fitBudget(stepMs: number, plan: Plan): { warmup: number; reps: number } {
  if (!plan.budgetMs || stepMs * (plan.warmup + plan.reps) <= plan.budgetMs) return plan;
  const fitting = Math.floor(plan.budgetMs / stepMs) - 1;
  return { warmup: 1, reps: Math.max(Math.min(3, plan.reps), Math.min(plan.reps, fitting)) };
}

/**
 * Runs the warm-up steps (untimed), calls `afterWarmup`, then times each timed step (ms). Returns the
 * timings and the warm-up count actually run (the first warm-up step may shrink the plan to its budget).
 */
export async function timeSteps(
  step: () => Promise<unknown>,
  plan: Plan,
  afterWarmup?: () => void,
): Promise<{ timesMs: number[]; warmup: number }> {
  let { warmup, reps } = plan;
  for (let i = 0; i < warmup; i++) {
    const start = performance.now();
    await step();
    if (i === 0) ({ warmup, reps } = fitBudget(performance.now() - start, plan));
  }
  afterWarmup?.();
  const timesMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await step();
    timesMs.push(performance.now() - start);
  }
  return { timesMs, warmup };
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
