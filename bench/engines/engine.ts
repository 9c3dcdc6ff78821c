import type { BenchContext, EngineResult, Plan, Precision, Probe, Workload } from '../types';

/** One engine of the side-by-side comparison, as the parent process sees it. */
export interface Engine {
  /** Stable id used in JSON (`onednn`, `tfjs-cpu`, `torch-nchw`, ...). */
  id: string;
  /** What the table prints. */
  label: string;
  /** What its convolutions and matrix products compute in; its GFLOP/s are shared of that precision's peak. */
  precision: Precision;
  /** Which workloads this engine is measured on (e.g. tfjs `cpu`: inference at batch 1 only). */
  supports(w: Workload): boolean;
  /** Slow configurations: fewer reps, and left out of --quick. */
  heavy?(w: Workload): boolean;
  /** Whether the engine is there at all, and its versions; cached per run by the caller. */
  probe(ctx: BenchContext): Promise<Probe>;
  /** Times `w` in a child process of its own. */
  measure(w: Workload, plan: Plan, ctx: BenchContext): Promise<EngineResult>;
}
