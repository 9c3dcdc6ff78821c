import * as tf from '@tensorflow/tfjs';
import { FusedAdamOptimizer, FusedMomentumOptimizer, FusedRMSPropOptimizer } from './fused_optimizers';

/** The optimizers `train --optimizer` offers (the notebook uses Adam and RMSprop). */
export type OptimizerName = 'adam' | 'rmsprop' | 'sgd';
export const OPTIMIZER_NAMES: OptimizerName[] = ['adam', 'rmsprop', 'sgd'];

export interface OptimizerOptions {
  /** SGD momentum (Keras `SGD(momentum=...)`); default 0.9. RMSprop momentum; default 0. */
  momentum?: number;
  /** Nesterov momentum for SGD; default false. */
  nesterov?: boolean;
  /** Adam beta1/beta2, Keras defaults 0.9 / 0.999. */
  beta1?: number;
  beta2?: number;
  /** RMSprop decay (Keras `rho`), default 0.9. */
  rho?: number;
  /** Fuzz factor; Keras default 1e-7. */
  epsilon?: number;
}

/**
 * Builds an optimizer by name with Keras defaults. Adam, RMSprop and momentum SGD are the fused variants: one
 * native pass per variable where the backend has the kernel (onednn), tfjs's own math elsewhere.
 */
export function createOptimizer(
  name: string,
  learningRate: number,
  options: OptimizerOptions = {},
): tf.Optimizer {
  if (!(Number.isFinite(learningRate) && learningRate > 0)) {
    throw new Error(`learning rate must be a positive number, got ${JSON.stringify(learningRate)}`);
  }
  const epsilon = options.epsilon ?? 1e-7;
  switch (name) {
    case 'adam':
      return new FusedAdamOptimizer(learningRate, options.beta1 ?? 0.9, options.beta2 ?? 0.999, epsilon);
    case 'rmsprop':
      return new FusedRMSPropOptimizer(learningRate, options.rho ?? 0.9, options.momentum ?? 0, epsilon);
    case 'sgd': {
      const momentum = options.momentum ?? 0.9;
      return momentum > 0
        ? new FusedMomentumOptimizer(learningRate, momentum, options.nesterov ?? false)
        : tf.train.sgd(learningRate);
    }
    default:
      throw new Error(
        `unknown optimizer ${JSON.stringify(name)}; known optimizers: ${OPTIMIZER_NAMES.join(', ')}`,
      );
  }
}

/** The learning rate the optimizer applies at its next step. */
export function getLearningRate(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as { learningRate?: number }).learningRate;
  if (typeof lr !== 'number') throw new Error(`${optimizer.getClassName()} has no learningRate`);
  return lr;
}

/**
 * Changes the learning rate for the following steps. tfjs SGD and Momentum cache `-lr` as a scalar tensor
 * (`setLearningRate` refreshes it); Adam and RMSprop read the `learningRate` field at every step.
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}
