import type * as tf from '@tensorflow/tfjs';

/** Metric values by name (`loss`, `accuracy`, `top5`, `val_loss`, ..., `lr`), as Keras passes `logs`. */
export type Logs = Record<string, number>;

/** What a callback sees of the run (Keras `self.model`, `self.params`). */
export interface TrainingContext {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  epochs: number;
  stepsPerEpoch: number;
  /** Set to true to end training after the current epoch (Keras `model.stop_training`). */
  stopTraining: boolean;
  getLearningRate(): number;
  setLearningRate(lr: number): void;
}

/** A callback's resumable state: JSON values, plus tensors (best weights) saved beside them in binary. */
export interface CallbackState {
  values: Record<string, unknown>;
  tensors?: tf.Tensor[];
}

/**
 * A training callback with Keras's hooks (epochs are 0-based as in Keras; messages print `epoch + 1`).
 * Hooks may be async. getState/setState make the callback resumable from `checkpoints/last`.
 */
export interface Callback {
  /** Key of this callback's state in a checkpoint. */
  readonly name: string;
  setContext?(ctx: TrainingContext): void;
  onTrainBegin?(logs: Logs): void | Promise<void>;
  onEpochBegin?(epoch: number, logs: Logs): void | Promise<void>;
  onBatchBegin?(batch: number, logs: Logs): void | Promise<void>;
  onBatchEnd?(batch: number, logs: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onTrainEnd?(logs: Logs): void | Promise<void>;
  getState?(): CallbackState;
  setState?(state: CallbackState): void;
}

export type Mode = 'auto' | 'min' | 'max';

/** Base class: holds the context handed in by the training loop. */
export abstract class BaseCallback implements Callback {
  abstract readonly name: string;
  protected ctxOrNull: TrainingContext | null = null;
  setContext(ctx: TrainingContext): void {
    this.ctxOrNull = ctx;
  }
  protected get ctx(): TrainingContext {
    if (!this.ctxOrNull) throw new Error(`${this.name}: used outside a training run`);
    return this.ctxOrNull;
  }
}

/** Whether larger values of `monitor` are better, as Keras decides it for mode 'auto'. */
export function monitorIsMax(monitor: string, mode: Mode, name: string): boolean {
  if (mode !== 'auto' && mode !== 'min' && mode !== 'max') {
    throw new Error(`${name}: mode must be 'auto', 'min' or 'max', got ${JSON.stringify(mode)}`);
  }
  if (mode === 'auto') return /acc|top\d|auc/.test(monitor);
  return mode === 'max';
}

/** Where a message of a callback goes when verbose (Keras prints to stdout; we let the caller choose). */
export type Printer = (line: string) => void;

/** Logs for a monitored value that is missing: Keras warns and skips, so do we. */
export function missingMonitor(name: string, monitor: string, logs: Logs, print: Printer): void {
  print(
    `${name}: monitor ${JSON.stringify(monitor)} is not available; available metrics are: ${Object.keys(logs).join(',')}`,
  );
}

/** Best value before any epoch, as JSON can hold it. */
export function serialiseBest(best: number): number | string {
  return Number.isFinite(best) ? best : best > 0 ? 'Infinity' : '-Infinity';
}
export function parseBest(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}
