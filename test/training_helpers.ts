// Shared fixtures for the training tests: a tiny classifier and separable synthetic data.
import * as tf from '@tensorflow/tfjs';
import { dropout } from '../src/layers/dropout';
import type { Callback, Logs, TrainingContext } from '../src/training/callback';
import { tensorSource } from '../src/training/data_source';
import { compileClassifier } from '../src/training/metrics';
import { createOptimizer } from '../src/training/optimizers';

/** Three Gaussian blobs in 4-D, one per class, one-hot labels. */
export function blobs(n: number, seed = 1): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  return tf.tidy(() => {
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const centres = tf.tensor2d([
      [2, 0, 0, 1],
      [0, 2, 0, -1],
      [0, 0, 2, 0],
    ]);
    const xs = tf.add(
      tf.gather(centres, labels),
      tf.randomNormal([n, 4], 0, 0.5, 'float32', seed),
    ) as tf.Tensor2D;
    return { xs, ys: tf.oneHot(labels, 3).cast('float32') as tf.Tensor2D };
  });
}

/**
 * dense(8, relu) → [dropout(dropoutRate)] → dense(3, softmax), compiled; deterministic weights and dropout
 * masks from `seed`.
 */
export function tinyModel(optimizer = 'adam', lr = 0.01, seed = 7, dropoutRate = 0): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 8,
        activation: 'relu',
        inputShape: [4],
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      ...(dropoutRate > 0 ? [dropout({ rate: dropoutRate, seed: seed + 2 })] : []),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
  compileClassifier(model, createOptimizer(optimizer, lr));
  return model;
}

export function sources(seed = 3) {
  const train = blobs(48, 11);
  const val = blobs(24, 12);
  return {
    train: tensorSource(train.xs, train.ys, { batchSize: 16, seed }),
    val: tensorSource(val.xs, val.ys, { batchSize: 16, shuffle: false }),
    dispose: () => tf.dispose([train.xs, train.ys, val.xs, val.ys]),
  };
}

/** A callback that replaces `logs[key]` with a scripted value per epoch (to drive monitors exactly). */
export function scripted(key: string, values: number[]): Callback {
  return {
    name: 'scripted',
    onEpochEnd(epoch: number, logs: Logs) {
      logs[key] = values[epoch];
    },
  };
}

/** A callback that calls `fn` at every epoch end with the context. */
export function recorder(fn: (epoch: number, logs: Logs, ctx: TrainingContext) => void): Callback {
  let ctx: TrainingContext;
  return {
    name: 'recorder',
    setContext(c) {
      ctx = c;
    },
    onEpochEnd(epoch, logs) {
      fn(epoch, logs, ctx);
    },
  };
}

/** A fake run context for driving a callback by hand. */
export function fakeContext(model: tf.LayersModel, lr = 0.1): TrainingContext & { lr: number } {
  const ctx = {
    model,
    optimizer: model.optimizer,
    epochs: 10,
    stepsPerEpoch: 4,
    stopTraining: false,
    lr,
    getLearningRate: () => ctx.lr,
    setLearningRate: (v: number) => {
      ctx.lr = v;
    },
  };
  return ctx;
}

export function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}
