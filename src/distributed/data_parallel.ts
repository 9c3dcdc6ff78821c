// Data-parallel training of a compiled tfjs model around its (fused) optimizer, Horovod's way: rank 0's
// weights and optimizer state are broadcast once; each step every rank computes its gradients on its part
// of the global batch, all gradients and the loss and metric sums go into ONE buffer allreduced once
// (tensor fusion), and every rank applies the same averaged gradient with its optimizer, so the ranks stay
// identical without exchanging weights again.
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import type { Collective } from './collective';

/** tfjs optimizers' applyGradients argument. */
type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

interface FusedSlot {
  /** The tf.Variable's name, by which gradients are keyed. */
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** What the last step saw over all ranks: the global sample count and the loss/metric means. */
export interface StepTotals {
  samples: number;
  /** Loss first, then the compiled metrics, each a mean over the global batch. */
  means: number[];
  /** Every rank's `stepExtras` of the step, summed (a stop request: any rank's 1 makes it >= 1). */
  extras: number[];
  /** This rank's time in the step's allreduce (waiting for the slowest rank included), and in the step. */
  allreduceMs: number;
  stepMs: number;
}

interface TensorSpec {
  name: string;
  shape: number[];
  dtype: tf.DataType;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The names of a compiled model's loss and metrics, in trainOnBatch's order. */
function outputNames(model: tf.LayersModel): string[] {
  return (model as unknown as { metricsNames: string[] }).metricsNames;
}

export class DataParallel {
  /** Totals of the last step, the same on every rank (log these, not the local values). */
  lastStep: StepTotals | null = null;
  /**
   * Values this rank adds to the next step's allreduce (the caller writes them before the step; they are
   * cleared after it), summed over the ranks into `lastStep.extras`: flags such as "stop after this step"
   * ride the step's one allreduce instead of a collective of their own.
   */
  readonly stepExtras: Float64Array;
  private readonly slots: FusedSlot[];
  private readonly fusion: Float32Array;
  private readonly metricCount: number;
  private readonly localTrainOnBatch: tf.LayersModel['trainOnBatch'];

  private constructor(
    readonly model: tf.LayersModel,
    readonly collective: Collective,
    extraCount: number,
  ) {
    let offset = 0;
    this.slots = model.trainableWeights.map((weight) => {
      const size = sizeOf(weight.shape as number[]);
      const slot = {
        name: (weight.read() as tf.Variable).name,
        shape: weight.shape as number[],
        offset,
        size,
      };
      offset += size;
      return slot;
    });
    this.metricCount = outputNames(model).length;
    // Gradients, then each output's sum over the rank's samples, the rank's sample count, the step extras.
    // Float32 holds the small integers flags and counts are exactly.
    this.stepExtras = new Float64Array(extraCount);
    this.fusion = new Float32Array(offset + this.metricCount + 1 + extraCount);
    this.localTrainOnBatch = Object.getPrototypeOf(model).trainOnBatch;
  }

  /**
   * Wraps a compiled model: broadcasts rank 0's weights and optimizer state to every rank, then makes
   * `model.trainOnBatch` the distributed step, so `trainModel` and custom loops train data parallel
   * unchanged (each rank passing its own part of the global batch).
   */
  static async create(
    model: tf.LayersModel,
    collective: Collective,
    options: { extraSums?: number } = {},
  ): Promise<DataParallel> {
    const extraCount = options.extraSums ?? 0;
    if (!(Number.isInteger(extraCount) && extraCount >= 0)) {
      throw new Error(`DataParallel: extraSums must be an integer >= 0, got ${extraCount}`);
    }
    if (!model.optimizer)
      throw new Error('DataParallel: compile the model first (compileClassifier or model.compile)');
    const parallel = new DataParallel(model, collective, extraCount);
    await parallel.broadcastState();
    Object.defineProperty(model, 'trainOnBatch', {
      value: (xs: tf.Tensor, ys: tf.Tensor) => parallel.trainOnBatch(xs, ys),
      configurable: true,
      writable: true,
    });
    return parallel;
  }

  /** Gives the model back its own one-process trainOnBatch. */
  detach(): void {
    delete (this.model as unknown as { trainOnBatch?: unknown }).trainOnBatch;
  }

  /**
   * Every rank takes rank 0's weights (all of them: batch-norm statistics too) and optimizer state. The
   * ranks' models must have the same weights by name and shape: a difference aborts the job.
   */
  async broadcastState(): Promise<void> {
    const { model, collective } = this;
    const optimizerWeights = collective.rank === 0 ? await model.optimizer.getWeights() : [];
    const header = new TextEncoder().encode(
      JSON.stringify({
        model: model.weights.map((w) => ({ name: w.originalName, shape: w.shape, dtype: w.dtype })),
        optimizer: optimizerWeights.map((w) => ({
          name: w.name,
          shape: w.tensor.shape,
          dtype: w.tensor.dtype,
        })),
      }),
    );
    const length = new Float64Array([header.length]);
    await collective.broadcast(length, 0);
    const bytes = collective.rank === 0 ? header : new Uint8Array(length[0]);
    await collective.broadcast(bytes, 0);
    const specs = JSON.parse(new TextDecoder().decode(bytes)) as {
      model: TensorSpec[];
      optimizer: TensorSpec[];
    };
    const mismatch =
      specs.model.length !== model.weights.length
        ? `${model.weights.length} weights, rank 0 has ${specs.model.length}`
        : specs.model
            .map((spec, i) => {
              const own = model.weights[i];
              return spec.name === own.originalName && spec.shape.join() === own.shape.join()
                ? null
                : `weight ${i} is ${own.originalName} ${JSON.stringify(own.shape)}, rank 0's is ${spec.name} ${JSON.stringify(spec.shape)}`;
            })
            .find((m) => m !== null);
    if (mismatch) collective.abort(1, `this rank's model differs from rank 0's: ${mismatch}`);
    const total = [...specs.model, ...specs.optimizer].reduce((n, s) => n + sizeOf(s.shape), 0);
    const values = new Float32Array(total);
    if (collective.rank === 0) {
      let offset = 0;
      for (const tensor of [
        ...model.weights.map((w) => w.read()),
        ...optimizerWeights.map((w) => w.tensor),
      ]) {
        values.set(tensor.dataSync(), offset);
        offset += tensor.size;
      }
      tf.dispose(optimizerWeights.filter((w) => w.name === 'iter').map((w) => w.tensor));
    }
    await collective.broadcast(values, 0);
    if (collective.rank === 0) return;
    let offset = 0;
    const take = (spec: TensorSpec) => {
      const tensor = tf.tensor(values.subarray(offset, offset + sizeOf(spec.shape)), spec.shape, spec.dtype);
      offset += tensor.size;
      return tensor;
    };
    model.weights.forEach((weight, i) => {
      const tensor = take(specs.model[i]);
      weight.write(tensor);
      tensor.dispose();
    });
    const optimizerState = specs.optimizer.map((spec) => ({ name: spec.name, tensor: take(spec) }));
    await model.optimizer.setWeights(optimizerState);
    tf.dispose(optimizerState.map((w) => w.tensor));
  }

  /**
   * One distributed step on this rank's part of the global batch (it may be empty: `xs` null or of
   * batch 0, for a last global batch smaller than the ranks). Every rank's gradient of its mean loss is
   * weighted by its sample count, summed in one allreduce and divided by the global count, so the update
   * is the one for the mean over the global batch, whatever the split. Returns the loss and metric means
   * over the global batch (as `lastStep.means`).
   */
  async trainOnBatch(xs: tf.Tensor | null, ys: tf.Tensor | null): Promise<number[]> {
    const { model, collective, fusion, slots } = this;
    const began = performance.now();
    const optimizer = model.optimizer;
    const samples = xs ? xs.shape[0] : 0;
    const tail = slots.length ? slots[slots.length - 1].offset + slots[slots.length - 1].size : 0;
    fusion.fill(0);
    if (samples > 0 && xs && ys) {
      const own = Object.getOwnPropertyDescriptor(optimizer, 'applyGradients');
      // tfjs's trainOnBatch computes the loss, metrics and gradients and hands the gradients to
      // applyGradients: taken here instead of applied, until every rank's are summed.
      optimizer.applyGradients = (gradients: VariableGradients) => this.pack(gradients, samples);
      let values: number[];
      try {
        values = [await this.localTrainOnBatch.call(model, xs, ys)].flat();
      } finally {
        if (own) Object.defineProperty(optimizer, 'applyGradients', own);
        else delete (optimizer as unknown as { applyGradients?: unknown }).applyGradients;
      }
      values.forEach((v, i) => {
        fusion[tail + i] = v * samples;
      });
      fusion[tail + this.metricCount] = samples;
    }
    fusion.set(this.stepExtras, tail + this.metricCount + 1);
    this.stepExtras.fill(0);
    const reduceBegan = performance.now();
    await collective.allreduceSum(fusion);
    const allreduceMs = performance.now() - reduceBegan;
    const total = fusion[tail + this.metricCount];
    if (!(total > 0))
      collective.abort(
        1,
        `a training step${collective.step ? ` (${collective.step})` : ''} had no samples on any rank`,
      );
    const scale = 1 / total;
    const gradients = slots.map((slot) => {
      const values = fusion.slice(slot.offset, slot.offset + slot.size);
      for (let i = 0; i < values.length; i++) values[i] *= scale;
      return { name: slot.name, tensor: tf.tensor(values, slot.shape) };
    });
    try {
      optimizer.applyGradients(gradients);
    } finally {
      tf.dispose(gradients.map((g) => g.tensor));
    }
    const means = Array.from(fusion.subarray(tail, tail + this.metricCount), (sum) => sum * scale);
    const extras = Array.from(fusion.subarray(tail + this.metricCount + 1));
    this.lastStep = { samples: total, means, extras, allreduceMs, stepMs: performance.now() - began };
    return means;
  }

  /**
   * Averages the batch-norm moving statistics over the ranks (each rank's moved with its own batches):
   * before validation and before saving, so every rank evaluates and rank 0 saves the same model.
   */
  async syncBatchNormStats(): Promise<void> {
    const stats = batchNormStatistics(this.model);
    if (stats.length === 0) return;
    const buffer = new Float32Array(stats.reduce((n, v) => n + v.read().size, 0));
    let offset = 0;
    for (const v of stats) {
      buffer.set(v.read().dataSync(), offset);
      offset += v.read().size;
    }
    await this.collective.allreduceSum(buffer);
    offset = 0;
    const scale = 1 / this.collective.size;
    for (const v of stats) {
      const values = buffer.slice(offset, offset + v.read().size);
      for (let i = 0; i < values.length; i++) values[i] *= scale;
      offset += values.length;
      const tensor = tf.tensor(values, v.shape as number[]);
      v.write(tensor);
      tensor.dispose();
    }
  }

  /** Takes tfjs's gradients into the fusion buffer, each multiplied by this rank's sample count. */
  private pack(gradients: VariableGradients, samples: number): void {
    const byName = new Map<string, tf.Tensor>(
      Array.isArray(gradients)
        ? gradients.map(({ name, tensor }) => [name, tensor] as const)
        : Object.entries(gradients),
    );
    for (const slot of this.slots) {
      const gradient = byName.get(slot.name);
      if (!gradient) continue;
      const values = gradient.dataSync();
      const out = this.fusion.subarray(slot.offset, slot.offset + slot.size);
      for (let i = 0; i < slot.size; i++) out[i] = values[i] * samples;
    }
  }
}

/** The moving means and variances of a model's batch-norm layers (tfjs's and this package's). */
export function batchNormStatistics(model: tf.LayersModel): tf.LayerVariable[] {
  return model.weights.filter((w) => /(^|\/)moving_(mean|variance)(_\d+)?$/.test(w.originalName));
}
