import { BaseCallback, type CallbackState, type Logs, type Printer } from './callback';

/** (epoch, current learning rate) → learning rate for this epoch; epoch is 0-based as in Keras. */
export type Schedule = (epoch: number, lr: number) => number;

/**
 * Keras `LearningRateScheduler`: at the start of every epoch sets the optimizer's learning rate to
 * `schedule(epoch, lr)`. A resumed run does not apply the schedule twice to an epoch it already started.
 */
export class LearningRateScheduler extends BaseCallback {
  readonly name = 'learning_rate_scheduler';
  /** Last epoch the schedule was applied to. */
  lastEpoch = -1;

  constructor(
    readonly schedule: Schedule,
    readonly verbose = 0,
    private readonly print: Printer = console.log,
  ) {
    super();
    if (typeof schedule !== 'function') throw new Error('learningRateScheduler: schedule must be a function');
  }

  onTrainBegin(): void {
    this.lastEpoch = -1;
  }

  onEpochBegin(epoch: number): void {
    if (epoch === this.lastEpoch) return;
    const lr = this.schedule(epoch, this.ctx.getLearningRate());
    if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0)) {
      throw new Error(`learningRateScheduler: schedule returned ${JSON.stringify(lr)} for epoch ${epoch}`);
    }
    this.ctx.setLearningRate(lr);
    this.lastEpoch = epoch;
    if (this.verbose > 0) {
      this.print(`Epoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${lr}.`);
    }
  }

  onEpochEnd(_epoch: number, logs: Logs): void {
    logs.lr = this.ctx.getLearningRate();
  }

  getState(): CallbackState {
    return { values: { lastEpoch: this.lastEpoch } };
  }

  setState(state: CallbackState): void {
    this.lastEpoch = Number(state.values.lastEpoch);
  }
}

export function learningRateScheduler(
  schedule: Schedule,
  verbose = 0,
  print?: Printer,
): LearningRateScheduler {
  return new LearningRateScheduler(schedule, verbose, print);
}
