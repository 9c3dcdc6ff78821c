import * as tf from '@tensorflow/tfjs';
import {
  BaseCallback,
  type CallbackState,
  type Logs,
  type Mode,
  missingMonitor,
  monitorIsMax,
  type Printer,
  parseBest,
  serialiseBest,
} from './callback';

/** Keras's EarlyStopping defaults. */
export const EARLY_STOPPING_DEFAULTS = { monitor: 'val_loss', minDelta: 0, patience: 0 };

export interface EarlyStoppingArgs {
  /** Quantity to watch. Default 'val_loss'. */
  monitor?: string;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Epochs without improvement after which training stops. Default 0. */
  patience?: number;
  verbose?: number;
  mode?: Mode;
  /** Training stops unless `monitor` beats this value. Default none. */
  baseline?: number;
  /** When stopping, put back the weights of the best epoch. Default false. */
  restoreBestWeights?: boolean;
  /** Epochs to wait before monitoring starts (warm-up). Default 0. */
  startFromEpoch?: number;
  print?: Printer;
}

/**
 * Keras `EarlyStopping` (tf.keras 2.x semantics): stops training when `monitor` has not improved by at least
 * `minDelta` for `patience` epochs; with `restoreBestWeights`, the weights of the best epoch are restored when
 * it stops (and, as in Keras, not when training simply runs out of epochs).
 */
export class EarlyStopping extends BaseCallback {
  readonly name = 'early_stopping';
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly baseline: number | undefined;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  readonly verbose: number;
  private readonly isMax: boolean;
  private readonly print: Printer;
  wait = 0;
  stoppedEpoch = 0;
  best = 0;
  bestEpoch = 0;
  bestWeights: tf.Tensor[] | null = null;

  constructor(args: EarlyStoppingArgs = {}) {
    super();
    this.monitor = args.monitor ?? EARLY_STOPPING_DEFAULTS.monitor;
    this.minDelta = Math.abs(args.minDelta ?? EARLY_STOPPING_DEFAULTS.minDelta);
    this.patience = args.patience ?? EARLY_STOPPING_DEFAULTS.patience;
    this.baseline = args.baseline;
    this.restoreBestWeights = args.restoreBestWeights ?? false;
    this.startFromEpoch = args.startFromEpoch ?? 0;
    this.verbose = args.verbose ?? 0;
    this.print = args.print ?? console.log;
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) {
      throw new Error(
        `earlyStopping: patience must be an integer >= 0, got ${JSON.stringify(args.patience)}`,
      );
    }
    this.isMax = monitorIsMax(this.monitor, args.mode ?? 'auto', 'earlyStopping');
  }

  /** Keras `_is_improvement`: the value, moved by minDelta against us, still beats the reference. */
  private isImprovement(value: number, reference: number): boolean {
    return this.isMax ? value - this.minDelta > reference : value + this.minDelta < reference;
  }

  private keepBestWeights(): void {
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.bestWeights = this.ctx.model.getWeights().map((w) => tf.keep(w.clone()));
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.isMax ? -Infinity : Infinity;
    this.bestEpoch = 0;
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.bestWeights = null;
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const current = logs[this.monitor];
    if (current === undefined) {
      missingMonitor('earlyStopping', this.monitor, logs, this.print);
      return;
    }
    if (epoch < this.startFromEpoch) return;
    // Keep the first epoch's weights in case no epoch ever improves.
    if (this.restoreBestWeights && this.bestWeights === null) this.keepBestWeights();
    this.wait += 1;
    if (this.isImprovement(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.keepBestWeights();
      // Only restart the wait when both the baseline and the previous best are beaten.
      if (this.baseline === undefined || this.isImprovement(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.ctx.stopTraining = true;
      if (this.restoreBestWeights && this.bestWeights) {
        if (this.verbose > 0) {
          this.print(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
        }
        this.ctx.model.setWeights(this.bestWeights);
      }
    }
  }

  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0)
      this.print(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.bestWeights = null;
  }

  getState(): CallbackState {
    return {
      values: {
        wait: this.wait,
        stoppedEpoch: this.stoppedEpoch,
        best: serialiseBest(this.best),
        bestEpoch: this.bestEpoch,
      },
      tensors: this.bestWeights ?? undefined,
    };
  }

  setState(state: CallbackState): void {
    this.wait = Number(state.values.wait);
    this.stoppedEpoch = Number(state.values.stoppedEpoch);
    this.best = parseBest(state.values.best);
    this.bestEpoch = Number(state.values.bestEpoch);
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.bestWeights = state.tensors?.length ? state.tensors.map((t) => tf.keep(t.clone())) : null;
  }
}

export function earlyStopping(args: EarlyStoppingArgs = {}): EarlyStopping {
  return new EarlyStopping(args);
}
