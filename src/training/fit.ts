import * as tf from '@tensorflow/tfjs';
import { type ComputePrecision, withComputePrecision } from '../backend/precision';
import type { Collective } from '../distributed/collective';
import { DataParallel } from '../distributed/data_parallel';
import { setDropoutStep } from '../layers/dropout';
import type { Callback, CallbackState, Logs, TrainingContext } from './callback';
import { allreduceNumbers } from './collective_values';
import type { HistoryRow } from './csv_logger';
import type { DataSource } from './data_source';
import { metricNames } from './metrics';
import { getLearningRate, setLearningRate } from './optimizers';

/** Keras `History`: the epochs run and each metric per epoch. */
export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

/** Running sums of an epoch in progress, weighted by batch size (Keras's `Mean` metrics). */
export interface EpochProgress {
  sums: Logs;
  seen: number;
}

/**
 * Everything needed to continue a run: written at each epoch end (step 0) and when interrupted mid-epoch.
 * `epoch` is the epoch to run next, or the one in progress when `step` > 0.
 */
export interface TrainingSnapshot {
  epoch: number;
  step: number;
  progress: EpochProgress | null;
  learningRate: number;
  callbacks: Record<string, CallbackState>;
  history: HistoryRow[];
}

export interface FitOptions {
  epochs: number;
  /** Keras `initial_epoch`: the first epoch to run (0-based). Default 0, or the snapshot's when resuming. */
  initialEpoch?: number;
  validationData?: DataSource;
  callbacks?: Callback[];
  /** Aborting finishes the current step, then stops with a snapshot (`interrupted: true`). */
  signal?: AbortSignal;
  /** Where resumable state goes: called after every epoch's callbacks and once on interruption. */
  onSnapshot?: (snapshot: TrainingSnapshot) => Promise<void>;
  /** Continue from a snapshot (weights and optimizer state already restored by the caller). */
  resume?: TrainingSnapshot;
  /**
   * Data-parallel training across the collective's ranks, each running trainModel with the same options
   * (DataParallel): rank 0's weights and optimizer state are broadcast first; each step's gradients, loss
   * and metric sums and stop vote travel in one allreduce; the signal on any rank stops every rank after the same step;
   * batch-norm moving statistics are averaged before validation and snapshots. `train` and
   * `validationData` must give each rank its part of every global batch (`shard` of imageFolderSource or
   * tensorSource), so the run is the single-process run with the same global batch.
   */
  collective?: Collective;
  /**
   * The precision convolutions and matmuls compute in for the run (training and validation), restored when
   * it ends: 'bf16' is PyTorch's CPU autocast (bf16 inputs, fp32 outputs; weights, gradients, optimizer state
   * and every other kernel fp32), on the onednn engine where the CPU has AVX512_BF16 or AMX. Absent: left as
   * it is (fp32 unless setComputePrecision changed it).
   */
  precision?: ComputePrecision;
}

export interface FitResult {
  history: History;
  /** Rows of every epoch, including those of the run this one resumed. */
  rows: HistoryRow[];
  /** Stopped by the signal; the last snapshot says where. */
  interrupted: boolean;
  /** Stopped by a callback (early stopping). */
  stoppedEarly: boolean;
  /** The snapshot taken last, without callback tensors (null when none was taken). */
  lastSnapshot: TrainingSnapshot | null;
}

/** Unique keys for callback states: the callback's name, suffixed when several share it. */
export function callbackKeys(callbacks: Callback[]): string[] {
  const seen = new Map<string, number>();
  return callbacks.map((c) => {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    return n === 1 ? c.name : `${c.name}_${n}`;
  });
}

function means(progress: EpochProgress): Logs {
  const logs: Logs = {};
  for (const [k, v] of Object.entries(progress.sums)) logs[k] = v / Math.max(1, progress.seen);
  return logs;
}

/**
 * Loss and metrics of a compiled model over a whole data source, weighted by batch size. With a collective,
 * each rank evaluates its shard and the sums are added across ranks: every rank gets the global means.
 */
export async function evaluateSource(
  model: tf.LayersModel,
  source: DataSource,
  collective?: Collective,
): Promise<Logs> {
  const names = metricNames(model);
  const progress: EpochProgress = { sums: {}, seen: 0 };
  for await (const { xs, ys } of source.batches(0)) {
    const n = xs.shape[0];
    if (n === 0) {
      tf.dispose([xs, ys]);
      continue;
    }
    const out = [model.evaluate(xs, ys, { batchSize: n })].flat() as tf.Scalar[];
    const values = await Promise.all(out.map(async (t) => (await t.data())[0]));
    tf.dispose([xs, ys, ...out]);
    names.forEach((name, i) => {
      progress.sums[name] = (progress.sums[name] ?? 0) + values[i] * n;
    });
    progress.seen += n;
  }
  if (collective) {
    const reduced = await allreduceNumbers(collective, [
      ...names.map((k) => progress.sums[k] ?? 0),
      progress.seen,
    ]);
    names.forEach((k, i) => {
      progress.sums[k] = reduced[i];
    });
    progress.seen = reduced[names.length];
  }
  if (progress.seen === 0) throw new Error('evaluation data has no batches');
  return means(progress);
}

/**
 * Keras `model.fit` for a compiled model over a data source: per epoch, train steps (`trainOnBatch`), then
 * validation, then the callbacks' `onEpochEnd` in order, then a snapshot. Logs hold the epoch means of
 * `loss` and the compiled metrics (`accuracy`, `top5`), their `val_` versions and `lr`, the rate the epoch ran at.
 */
export async function trainModel(
  model: tf.LayersModel,
  train: DataSource,
  options: FitOptions,
): Promise<FitResult> {
  const run = () => fitLoop(model, train, options);
  return options.precision ? withComputePrecision(options.precision, run) : run();
}

async function fitLoop(model: tf.LayersModel, train: DataSource, options: FitOptions): Promise<FitResult> {
  // Read at each use, not kept: a callback may recompile the model with a new optimizer (fine-tuning's unfreeze).
  const optimizer = () => model.optimizer;
  if (!model.optimizer)
    throw new Error('trainModel: compile the model first (compileClassifier or model.compile)');
  const { epochs, validationData, signal, onSnapshot, resume, collective } = options;
  if (!(Number.isInteger(epochs) && epochs >= 1)) {
    throw new Error(`trainModel: epochs must be an integer >= 1, got ${JSON.stringify(epochs)}`);
  }
  const callbacks = options.callbacks ?? [];
  const keys = callbackKeys(callbacks);
  const names = metricNames(model);
  const ctx: TrainingContext = {
    model,
    optimizer: model.optimizer,
    epochs,
    stepsPerEpoch: train.steps,
    stopTraining: false,
    getLearningRate: () => getLearningRate(optimizer()),
    setLearningRate: (lr) => setLearningRate(optimizer(), lr),
  };
  const rows: HistoryRow[] = resume ? [...resume.history] : [];
  for (const cb of callbacks) cb.setContext?.(ctx);
  for (const cb of callbacks) await cb.onTrainBegin?.({});
  if (resume) {
    callbacks.forEach((cb, i) => {
      const state = resume.callbacks[keys[i]];
      if (state && cb.setState) cb.setState(state);
    });
    setLearningRate(optimizer(), resume.learningRate);
  }
  const snapshot = (epoch: number, step: number, progress: EpochProgress | null): TrainingSnapshot => ({
    epoch,
    step,
    progress,
    learningRate: getLearningRate(optimizer()),
    callbacks: Object.fromEntries(
      callbacks.flatMap((cb, i) => (cb.getState ? [[keys[i], cb.getState()]] : [])),
    ),
    history: [...rows],
  });
  let interrupted = false;
  let stoppedEarly = false;
  let lastSnapshot: TrainingSnapshot | null = null;
  const take = async (s: TrainingSnapshot) => {
    // Keep the JSON part only: callback tensors (best weights) are the callbacks' and may be disposed later.
    lastSnapshot = {
      ...s,
      callbacks: Object.fromEntries(Object.entries(s.callbacks).map(([k, c]) => [k, { values: c.values }])),
    };
    if (onSnapshot) await onSnapshot(s);
  };
  const first = options.initialEpoch ?? resume?.epoch ?? 0;
  (model as unknown as { stopTraining: boolean }).stopTraining = false;
  // One step extra: the stop vote (a signal on any rank stops every rank after the same step).
  const parallel = collective ? await DataParallel.create(model, collective, { extraSums: 1 }) : null;
  try {
    const rank = collective?.rank ?? 0;
    const ranks = collective?.size ?? 1;
    // Whether to stop at an epoch's end: a signal seen by any rank, so all ranks stop together.
    const stopAtEpochEnd = async () => {
      const local = signal?.aborted ? 1 : 0;
      return (collective ? (await allreduceNumbers(collective, [local]))[0] : local) > 0;
    };

    for (let epoch = first; epoch < epochs; epoch++) {
      const partial = resume && epoch === resume.epoch && resume.step > 0 ? resume : null;
      const startStep = partial ? partial.step : 0;
      const progress: EpochProgress = partial?.progress
        ? { sums: { ...partial.progress.sums }, seen: partial.progress.seen }
        : { sums: {}, seen: 0 };
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch, { step: startStep });
      let step = startStep;
      let stop = false;
      for await (const { xs, ys } of train.batches(epoch, startStep)) {
        const n = xs.shape[0];
        for (const cb of callbacks) await cb.onBatchBegin?.(step, {});
        // Each rank draws its own dropout masks (one process is rank 0 of 1: the seeded masks of before).
        setDropoutStep(model, (epoch * train.steps + step) * ranks + rank);
        if (collective) collective.step = `epoch ${epoch + 1} step ${step + 1}`;
        if (parallel) parallel.stepExtras[0] = signal?.aborted ? 1 : 0;
        let sums: number[];
        try {
          const values = [await model.trainOnBatch(xs, ys)].flat();
          // Data parallel: the values are the global batch's means, the same on every rank.
          const images = parallel?.lastStep?.samples ?? n;
          sums = values.map((v) => v * images);
          progress.seen += images;
          stop = (parallel?.lastStep?.extras[0] ?? 0) > 0;
        } finally {
          tf.dispose([xs, ys]);
        }
        sums.forEach((v, i) => {
          progress.sums[names[i]] = (progress.sums[names[i]] ?? 0) + v;
        });
        step++;
        const batchLogs = means(progress);
        for (const cb of callbacks) await cb.onBatchEnd?.(step - 1, batchLogs);
        // Alone, a signal seen up to now counts; across ranks, the one reduced with the step (all agree).
        if (!collective) stop = signal?.aborted ?? false;
        if (stop) break;
      }
      if (step === 0) throw new Error('training data has no batches');
      if (collective) collective.step = `epoch ${epoch + 1} end`;
      await parallel?.syncBatchNormStats();
      if (stop && step < train.steps) {
        await take(snapshot(epoch, step, progress));
        interrupted = true;
        break;
      }
      const logs = means(progress);
      if (validationData) {
        const val = await evaluateSource(model, validationData, collective);
        for (const [k, v] of Object.entries(val)) logs[`val_${k}`] = v;
      }
      logs.lr = getLearningRate(optimizer());
      for (const cb of callbacks) await cb.onEpochEnd?.(epoch, logs);
      rows.push({ epoch, logs: { ...logs } });
      await take(snapshot(epoch + 1, 0, null));
      if (ctx.stopTraining || (model as unknown as { stopTraining: boolean }).stopTraining) {
        stoppedEarly = true;
        break;
      }
      if (await stopAtEpochEnd()) {
        interrupted = epoch + 1 < epochs;
        break;
      }
    }
  } finally {
    parallel?.detach();
    if (collective) collective.step = '';
  }
  const lastLogs = rows.length ? rows[rows.length - 1].logs : {};
  for (const cb of callbacks) await cb.onTrainEnd?.(lastLogs);
  return { history: toHistory(rows), rows, interrupted, stoppedEarly, lastSnapshot };
}

/** Keras `History` from history rows. */
export function toHistory(rows: HistoryRow[]): History {
  const history: Record<string, number[]> = {};
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.logs)))];
  for (const k of keys) history[k] = rows.map((r) => r.logs[k] ?? Number.NaN);
  return { epoch: rows.map((r) => r.epoch), history };
}
