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

/** Keras's ReduceLROnPlateau defaults. */
export const REDUCE_LR_DEFAULTS = {
  monitor: 'val_loss',
  factor: 0.1,
  patience: 10,
  minDelta: 1e-4,
  cooldown: 0,
  minLr: 0,
};

export interface ReduceLROnPlateauArgs {
  /** Quantity to watch. Default 'val_loss'. */
  monitor?: string;
  /** new_lr = lr * factor; must be < 1. Default 0.1. */
  factor?: number;
  /** Epochs without improvement before the rate is reduced. Default 10. */
  patience?: number;
  /** 0: quiet, 1: a line each time the rate is reduced. */
  verbose?: number;
  mode?: Mode;
  /** Threshold for a new optimum: only changes larger than this count. Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting bad epochs again. Default 0. */
  cooldown?: number;
  /** Lower bound on the learning rate. Default 0. */
  minLr?: number;
  print?: Printer;
}

/**
 * Keras `ReduceLROnPlateau`: multiplies the learning rate by `factor` once `monitor` has not improved by more
 * than `minDelta` for `patience` epochs, then waits `cooldown` epochs before counting again. Adds `lr` to logs.
 */
export class ReduceLROnPlateau extends BaseCallback {
  readonly name = 'reduce_lr_on_plateau';
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly verbose: number;
  private readonly isMax: boolean;
  private readonly print: Printer;
  best = 0;
  wait = 0;
  cooldownCounter = 0;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    super();
    this.monitor = args.monitor ?? REDUCE_LR_DEFAULTS.monitor;
    this.factor = args.factor ?? REDUCE_LR_DEFAULTS.factor;
    this.patience = args.patience ?? REDUCE_LR_DEFAULTS.patience;
    this.minDelta = args.minDelta ?? REDUCE_LR_DEFAULTS.minDelta;
    this.cooldown = args.cooldown ?? REDUCE_LR_DEFAULTS.cooldown;
    this.minLr = args.minLr ?? REDUCE_LR_DEFAULTS.minLr;
    this.verbose = args.verbose ?? 0;
    this.print = args.print ?? console.log;
    if (!(this.factor < 1 && this.factor > 0)) {
      throw new Error(`reduceLROnPlateau: factor must be in (0, 1), got ${JSON.stringify(args.factor)}`);
    }
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) {
      throw new Error(
        `reduceLROnPlateau: patience must be an integer >= 0, got ${JSON.stringify(args.patience)}`,
      );
    }
    this.isMax = monitorIsMax(this.monitor, args.mode ?? 'auto', 'reduceLROnPlateau');
    this.reset();
  }

  private reset(): void {
    this.best = this.isMax ? -Infinity : Infinity;
    this.wait = 0;
    this.cooldownCounter = 0;
  }

  private improved(current: number): boolean {
    return this.isMax ? current > this.best + this.minDelta : current < this.best - this.minDelta;
  }

  private inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  onTrainBegin(): void {
    this.reset();
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    logs.lr = this.ctx.getLearningRate();
    const current = logs[this.monitor];
    if (current === undefined) {
      missingMonitor('reduceLROnPlateau', this.monitor, logs, this.print);
      return;
    }
    if (this.inCooldown()) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }
    if (this.improved(current)) {
      this.best = current;
      this.wait = 0;
    } else if (!this.inCooldown()) {
      this.wait += 1;
      if (this.wait >= this.patience) {
        const oldLr = this.ctx.getLearningRate();
        // Keras compares in float32: a rate already at minLr is left alone.
        if (Math.fround(oldLr) > Math.fround(this.minLr)) {
          const newLr = Math.max(oldLr * this.factor, this.minLr);
          this.ctx.setLearningRate(newLr);
          if (this.verbose > 0) {
            this.print(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${newLr}.`);
          }
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }

  getState(): CallbackState {
    return {
      values: { best: serialiseBest(this.best), wait: this.wait, cooldownCounter: this.cooldownCounter },
    };
  }

  setState(state: CallbackState): void {
    this.best = parseBest(state.values.best);
    this.wait = Number(state.values.wait);
    this.cooldownCounter = Number(state.values.cooldownCounter);
  }
}

export function reduceLROnPlateau(args: ReduceLROnPlateauArgs = {}): ReduceLROnPlateau {
  return new ReduceLROnPlateau(args);
}
