import * as tf from '@tensorflow/tfjs';
import { BaseCallback, type Logs } from './callback';

/** Training produced NaN or Infinity: the run stops and nothing from that point on is saved. */
export class TrainingDivergedError extends Error {
  constructor(what: string) {
    super(`training diverged: ${what}; stopped without saving it (try a lower learning rate)`);
    this.name = 'TrainingDivergedError';
  }
}

/** Name of the first weight of `model` holding NaN or Infinity, or null. */
export function nonFiniteWeight(model: tf.LayersModel): string | null {
  for (const w of model.weights) {
    const finite = tf.tidy(() => tf.all(tf.isFinite(w.read())).dataSync()[0]);
    if (!finite) return w.originalName ?? w.name;
  }
  return null;
}

/**
 * Keras `TerminateOnNaN`, made strict: a non-finite loss after any batch, or a non-finite metric or weight at
 * an epoch's end, throws TrainingDivergedError. Keras only sets `stop_training`, which still runs the epoch's
 * checkpoints; throwing stops the run before anything diverged reaches a checkpoint or the model folder, so
 * place it before ModelCheckpoint.
 */
export class TerminateOnNaN extends BaseCallback {
  readonly name = 'terminate_on_nan';
  private epoch = 0;

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  onBatchEnd(batch: number, logs: Logs): void {
    const loss = logs.loss;
    if (loss !== undefined && !Number.isFinite(loss)) {
      throw new TrainingDivergedError(`loss is ${loss} at epoch ${this.epoch + 1}, batch ${batch + 1}`);
    }
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    for (const [key, value] of Object.entries(logs)) {
      if (!Number.isFinite(value)) {
        throw new TrainingDivergedError(`${key} is ${value} at the end of epoch ${epoch + 1}`);
      }
    }
    const weight = nonFiniteWeight(this.ctx.model);
    if (weight) {
      throw new TrainingDivergedError(`weight ${weight} holds NaN or Infinity after epoch ${epoch + 1}`);
    }
  }
}

export function terminateOnNaN(): TerminateOnNaN {
  return new TerminateOnNaN();
}
