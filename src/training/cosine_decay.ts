import { BaseCallback, type Logs } from './callback';

export interface CosineDecayArgs {
  /** The peak learning rate, reached at the end of the warm-up (Keras `warmup_target`). */
  peak: number;
  /** Steps of linear warm-up from `peak * startFactor` to `peak`. Default 0. */
  warmupSteps?: number;
  /** Steps of cosine decay after the warm-up, to `peak * alpha` (Keras `decay_steps`). */
  decaySteps: number;
  /** Final learning rate as a fraction of the peak (Keras `alpha`). Default 0. */
  alpha?: number;
  /** Warm-up starts at this fraction of the peak. Default 0.1. */
  startFactor?: number;
}

/** The learning rate at a global step (0-based) of Keras's CosineDecay with linear warm-up. */
export function cosineDecayAt(step: number, a: CosineDecayArgs): number {
  const warmup = a.warmupSteps ?? 0;
  const alpha = a.alpha ?? 0;
  const start = a.startFactor ?? 0.1;
  if (step < warmup) return a.peak * (start + (1 - start) * (step / warmup));
  const t = Math.min(1, (step - warmup) / Math.max(1, a.decaySteps));
  return a.peak * (alpha + (1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/**
 * Keras `CosineDecay(warmup_target, warmup_steps, decay_steps, alpha)` applied per training step: linear
 * warm-up to the peak, then half a cosine down to `alpha * peak`. The short-schedule choice for SGD with
 * momentum on BN networks. A function of the global step only, so a resumed run continues the same curve.
 */
export class CosineDecay extends BaseCallback {
  readonly name = 'cosine_decay';
  private epoch = 0;

  constructor(readonly args: CosineDecayArgs) {
    super();
    const bad = (what: string, v: unknown) => {
      throw new Error(`cosineDecay: ${what}, got ${JSON.stringify(v)}`);
    };
    if (!(Number.isFinite(args.peak) && args.peak > 0)) bad('peak must be a positive number', args.peak);
    if (!(Number.isInteger(args.decaySteps) && args.decaySteps >= 1))
      bad('decaySteps must be >= 1', args.decaySteps);
    const w = args.warmupSteps ?? 0;
    if (!(Number.isInteger(w) && w >= 0)) bad('warmupSteps must be an integer >= 0', w);
    const alpha = args.alpha ?? 0;
    if (!(alpha >= 0 && alpha <= 1)) bad('alpha must be in [0, 1]', alpha);
  }

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  onBatchBegin(batch: number): void {
    this.ctx.setLearningRate(cosineDecayAt(this.epoch * this.ctx.stepsPerEpoch + batch, this.args));
  }

  onEpochEnd(_epoch: number, logs: Logs): void {
    logs.lr = this.ctx.getLearningRate();
  }
}

export function cosineDecay(args: CosineDecayArgs): CosineDecay {
  return new CosineDecay(args);
}
