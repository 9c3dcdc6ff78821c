import { BaseCallback, type Logs, type Printer } from './callback';

/**
 * Stops training at an epoch end once another epoch would overrun `seconds` of wall time (projected from the
 * slowest epoch so far). Not a Keras callback: it lets a demo fit a time box on any engine.
 */
export class TimeBudget extends BaseCallback {
  readonly name = 'time_budget';
  private start = 0;
  private epochStart = 0;
  private slowest = 0;
  stopped = false;

  constructor(
    readonly seconds: number,
    private readonly print: Printer = () => {},
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  onTrainBegin(): void {
    this.start = this.now();
    this.slowest = 0;
    this.stopped = false;
  }

  onEpochBegin(): void {
    this.epochStart = this.now();
  }

  onEpochEnd(epoch: number, _logs: Logs): void {
    const now = this.now();
    this.slowest = Math.max(this.slowest, now - this.epochStart);
    if (epoch + 1 < this.ctx.epochs && now - this.start + this.slowest > this.seconds * 1000) {
      this.ctx.stopTraining = true;
      this.stopped = true;
      this.print(
        `Epoch ${epoch + 1}: stopping, another epoch would overrun the ${this.seconds}s time budget`,
      );
    }
  }
}

export function timeBudget(seconds: number, print?: Printer, now?: () => number): TimeBudget {
  return new TimeBudget(seconds, print, now);
}
