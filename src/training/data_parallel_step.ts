/**
 * The training side of data parallelism over a collective (MPI under `inception train --distributed`):
 * starting every rank from rank 0's weights and optimizer state, one fused allreduce per step carrying
 * the gradients, the loss and metric sums, the image count and the stop flag, validation sums, and batch-norm
 * moving statistics averaged across ranks. Every rank ends each step with the same numbers, so the callbacks
 * decide the same way everywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { gradientsByName, type VariableGradients } from './fused_optimizers';

/** What data-parallel training needs of a collective; src/distributed's MPI collective is one. */
export interface TrainingCollective {
  readonly rank: number;
  readonly size: number;
  broadcast(buf: Float32Array | Float64Array, root?: number): Promise<void>;
  allreduceSum(buf: Float32Array | Float64Array): Promise<void>;
}

/** Sends rank 0's JSON value to every rank (others pass anything; they get rank 0's). */
export async function broadcastJson<T>(collective: TrainingCollective, value: T): Promise<T> {
  const bytes = collective.rank === 0 ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
  const length = new Float64Array([bytes.length]);
  await collective.broadcast(length);
  // Bytes travel as float64 words: a bit-exact copy, whatever the collective's element type.
  const words = new Float64Array(Math.ceil(length[0] / 8));
  new Uint8Array(words.buffer).set(bytes);
  await collective.broadcast(words);
  return JSON.parse(new TextDecoder().decode(new Uint8Array(words.buffer, 0, length[0])));
}

function packInto(buf: Float32Array, tensors: tf.Tensor[]): void {
  let offset = 0;
  for (const t of tensors) {
    buf.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
}

function unpack(buf: Float32Array, like: tf.Tensor[]): tf.Tensor[] {
  let offset = 0;
  return like.map((t) => {
    const values = buf.slice(offset, offset + t.size);
    // The optimizer's iteration count is int32 (exact in float32 up to 2^24 steps).
    const part =
      t.dtype === 'int32' ? tf.tensor(Int32Array.from(values), t.shape, 'int32') : tf.tensor(values, t.shape);
    offset += t.size;
    return part;
  });
}

/**
 * Makes every rank's weights and optimizer state rank 0's (Horovod's broadcast_parameters and
 * broadcast_optimizer_state): one broadcast, after a check that every rank holds the same layout, so a rank
 * that built another network fails naming itself instead of training on garbage.
 */
export async function broadcastTrainingState(
  collective: TrainingCollective,
  model: tf.LayersModel,
): Promise<void> {
  const weights = model.getWeights();
  const optimizerWeights = await model.optimizer.getWeights();
  const tensors = [...weights, ...optimizerWeights.map((w) => w.tensor)];
  try {
    const layout = tensors.map((t) => `${t.dtype}[${t.shape}]`).join(',');
    const rootLayout = await broadcastJson(collective, layout);
    if (layout !== rootLayout) {
      throw new Error(
        `rank ${collective.rank}: its model and optimizer state differ from rank 0's (${tensors.length} tensors); every rank must train the same network from the same checkpoint`,
      );
    }
    const bad = tensors.find((t) => t.dtype !== 'float32' && t.dtype !== 'int32');
    if (bad) throw new Error(`data-parallel training needs float32 weights, got ${bad.dtype}`);
    const buf = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
    if (collective.rank === 0) packInto(buf, tensors);
    await collective.broadcast(buf);
    if (collective.rank !== 0) {
      const parts = unpack(buf, tensors);
      model.setWeights(parts.slice(0, weights.length));
      await model.optimizer.setWeights(
        optimizerWeights.map((w, i) => ({ name: w.name, tensor: parts[weights.length + i] })),
      );
      tf.dispose(parts);
    }
  } finally {
    // getWeights() made the iterations scalar for us; the rest are the optimizer's own variables.
    tf.dispose(optimizerWeights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  }
}

/** Batch-norm moving mean and variance (Keras names): the state each rank updates from its own images. */
function movingStatistics(model: tf.LayersModel): tf.LayerVariable[] {
  return model.nonTrainableWeights.filter((w) => /moving_(mean|variance)$/.test(w.originalName));
}

/**
 * Averages the batch-norm moving statistics over the ranks (tf.distribute's ON_READ MEAN), so validation
 * and checkpoints see one model. A no-op on one rank or without batch norm.
 */
export async function averageMovingStatistics(
  collective: TrainingCollective,
  model: tf.LayersModel,
): Promise<void> {
  const stats = movingStatistics(model);
  if (collective.size === 1 || stats.length === 0) return;
  const values = stats.map((w) => w.read());
  const buf = new Float32Array(values.reduce((n, t) => n + t.size, 0));
  packInto(buf, values);
  await collective.allreduceSum(buf);
  const scale = 1 / collective.size;
  for (let i = 0; i < buf.length; i++) buf[i] *= scale;
  const parts = unpack(buf, values);
  stats.forEach((w, i) => {
    w.write(parts[i]);
  });
  tf.dispose(parts);
}

/** The variables trainOnBatch hands the optimizer, in its order (the order optimizer state is indexed by). */
function trainedVariables(model: tf.LayersModel): tf.Variable[] {
  const collected = (model as unknown as { collectedTrainableWeights?: tf.LayerVariable[] })
    .collectedTrainableWeights;
  return (collected ?? model.trainableWeights).map((w) => w.read() as tf.Variable);
}

/** What one data-parallel step leaves every rank with: the same global numbers. */
export interface ReducedStep {
  /** Sum over the global batch of each compiled output (loss, then metrics) times its images. */
  sums: number[];
  /** Images in the global batch. */
  images: number;
  /** Whether any rank asked to stop after this step. */
  stop: boolean;
}

/**
 * One synchronous data-parallel step: this rank's part of the global batch through `trainOnBatch` with
 * the optimizer's update held back, then one allreduce of [gradients x local images, loss and metric sums,
 * image count, stop flag], then the optimizer's own (fused) update with the global-batch mean gradient.
 * An empty part (a last batch smaller than the ranks) contributes zeros. Every rank applies the same
 * gradient to the same weights, so the ranks stay bit-identical.
 */
export async function dataParallelStep(
  collective: TrainingCollective,
  model: tf.LayersModel,
  xs: tf.Tensor,
  ys: tf.Tensor,
  stopRequested: boolean,
  outputs: number,
): Promise<ReducedStep> {
  const optimizer = model.optimizer;
  const variables = trainedVariables(model);
  const offsets = new Map<string, number>();
  let total = 0;
  for (const v of variables) {
    offsets.set(v.name, total);
    total += v.size;
  }
  const buf = new Float32Array(total + outputs + 2);
  const images = xs.shape[0];
  if (images > 0) {
    // Held back, not applied: the instance property shadows the class's applyGradients for this call only.
    const hold = (gradients: VariableGradients) => {
      for (const [name, gradient] of gradientsByName(gradients)) {
        const offset = offsets.get(name);
        if (offset === undefined)
          throw new Error(`data-parallel step: gradient for unknown variable ${name}`);
        if (!gradient) continue;
        const g = gradient.dataSync();
        for (let i = 0; i < g.length; i++) buf[offset + i] = g[i] * images;
      }
    };
    Object.defineProperty(optimizer, 'applyGradients', { value: hold, configurable: true, writable: true });
    let values: number[];
    try {
      values = [await model.trainOnBatch(xs, ys)].flat();
    } finally {
      delete (optimizer as { applyGradients?: unknown }).applyGradients;
    }
    values.forEach((v, k) => {
      buf[total + k] = v * images;
    });
  }
  buf[total + outputs] = images;
  buf[total + outputs + 1] = stopRequested ? 1 : 0;
  await collective.allreduceSum(buf);
  const globalImages = buf[total + outputs];
  const scale = 1 / globalImages;
  const gradients = variables.map((v) => {
    const offset = offsets.get(v.name) as number;
    const g = buf.subarray(offset, offset + v.size);
    for (let i = 0; i < g.length; i++) g[i] *= scale;
    return { name: v.name, tensor: tf.tensor(g, v.shape, 'float32') };
  });
  try {
    optimizer.applyGradients(gradients);
  } finally {
    tf.dispose(gradients.map((g) => g.tensor));
  }
  return {
    sums: Array.from(buf.subarray(total, total + outputs)),
    images: globalImages,
    stop: buf[total + outputs + 1] > 0,
  };
}

/** Sums `values` over the ranks in float64 (validation sums, a stop flag). */
export async function allreduceNumbers(collective: TrainingCollective, values: number[]): Promise<number[]> {
  const buf = new Float64Array(values);
  await collective.allreduceSum(buf);
  return Array.from(buf);
}
