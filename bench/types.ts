/** What one timed step does: a forward pass, or a full training step (forward, backward, Adam update). */
export type Mode = 'inference' | 'training';

/** One measured configuration, identical for every engine. */
export interface Workload {
  mode: Mode;
  /** Builder name (`googlenet`). */
  model: string;
  classes: number;
  /** Width multiplier of the builder (1: the published network). */
  width: number;
  /** Square input side: 224 means 224x224x3. */
  size: number;
  batch: number;
}

/** How many untimed and timed steps an engine runs. */
export interface Plan {
  warmup: number;
  reps: number;
  /**
   * Time one measurement should take. When the first warm-up step shows that warmup + reps steps would
   * exceed it, the engine drops to 1 warm-up and as many timed steps as fit, but never fewer than 3.
   */
  budgetMs?: number;
}

/** What an engine's child process answers: timings of each timed step, or why it could not run. */
export type EngineResult =
  | {
      ok: true;
      /** Wall time of each timed step (one batch), in milliseconds. */
      timesMs: number[];
      warmup: number;
      /** Peak resident set size of the whole child process (VmHWM), bytes. */
      peakRssBytes: number | null;
      /** Threads the engine computed with. */
      threads: number;
      versions: Record<string, string>;
      notes?: string[];
    }
  /** `missing`: the engine could not be set up (not installed, no model file), as opposed to it breaking. */
  | { ok: false; reason: string; missing?: boolean };

/** An engine's answer before any measurement: is it there, and which versions. */
export type Probe =
  | { ok: true; versions: Record<string, string>; threads?: number; notes?: string[] }
  | { ok: false; reason: string };

/** Numeric precision of a row: what its convolutions and matrix products compute in. */
export type Precision = 'fp32' | 'bf16' | 'int8';

/** The message a JS engine child receives as its one argv argument (JSON). */
export interface ChildRequest {
  /** `peak`: the FMA peak of the onednn addon (native/peak.cc) for every precision the CPU has. */
  engine: 'tfjs' | 'onnxruntime' | 'peak';
  /** tfjs backend to select (INCEPTION_BACKEND semantics). */
  backend?: 'cpu' | 'wasm' | 'onednn';
  /**
   * onednn: inference through the planned path (compilePlan, src/inference/plan.ts) instead of tfjs's
   * kernel-at-a-time `model.predict`.
   */
  planned?: boolean;
  /** onednn: the precision of the plan (inference) or of the native kernels' compute (training). */
  precision?: Precision;
  threads: number;
  /** Only report availability and versions. */
  probe?: boolean;
  workload?: Workload;
  plan?: Plan;
  /** For onnxruntime: the model file. */
  onnxPath?: string;
  /**
   * For onnxruntime: instead of timing, write a QDQ int8 copy of `onnxPath` to `outPath`, with activation
   * ranges calibrated on `batches` random-normal batches of `batch` images.
   */
  /** For peak: seconds per precision. */
  seconds?: number;
}

export type SectionStatus = 'ok' | 'missing' | 'skipped' | 'failed';

/** A column of a section's table: rows are keyed by `key`. */
export interface Column {
  key: string;
  label: string;
  /** Fixed decimals for numbers; default: by magnitude (0 from 100 up, 1 from 10, else 2). */
  digits?: number;
}

/**
 * What every section hands back: a titled table. Rows whose `status` is not `ok` print as
 * `<first column>  <status> (<reason>)`. Extra fields travel into the JSON document unchanged.
 */
export interface SectionReport {
  id: string;
  title: string;
  status: SectionStatus;
  reason?: string;
  columns: Column[];
  rows: Record<string, unknown>[];
  notes?: string[];
  [extra: string]: unknown;
}

/** What a section gets from the runner. */
export interface BenchContext {
  /** Threads every engine is given (OMP_NUM_THREADS, intra-op threads, setThreadsCount). */
  threads: number;
  /** Smoke run: fewer reps, slow configurations skipped. */
  quick: boolean;
  /** Width multiplier of the measured network (--width; default 1). */
  width: number;
  /** Engine ids to measure (--engines); undefined: all. */
  engines?: string[];
  /** Timed repetitions asked for with --reps, else undefined (each section's default). */
  reps?: number;
  /** A scratch folder for this run, removed at the end. */
  tmpDir: string;
  /** Longest a single child process may run before it is killed and reported as failed. */
  childTimeoutMs: number;
  /** Progress for humans (stderr); never part of the result. */
  log(message: string): void;
  /** Runs `make` once per key for the whole run (probes, exported models, FLOP counts). */
  once<T>(key: string, make: () => Promise<T>): Promise<T>;
}

/** One entry of SECTIONS: a named measurement the runner can select with --only. */
export interface Section {
  id: string;
  title: string;
  /** Left out of --quick runs unless named with --only. */
  slow?: boolean;
  run(ctx: BenchContext): Promise<SectionReport>;
}
