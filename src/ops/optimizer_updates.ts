/**
 * Fused optimizer updates as custom tfjs kernels: the contract between the optimizers that call them
 * (src/training/fused_optimizers.ts) and the backends that implement them (src/backend/kernels/), so neither
 * imports the other. Each kernel takes a variable, its gradient and its optimizer state and returns their
 * new values, computed with the same float32 math as the tfjs optimizer it replaces. A backend may return an
 * input's own storage, updated in place, when nothing else shares it; callers `assign` the results either way.
 */
import * as tf from '@tensorflow/tfjs';

export const ADAM_UPDATE = 'InceptionAdamUpdate';
export const RMSPROP_UPDATE = 'InceptionRMSPropUpdate';
export const MOMENTUM_UPDATE = 'InceptionMomentumUpdate';

/** tfjs AdamOptimizer's hyper-parameters, as plain numbers (the kernel rounds them as tfjs does). */
export interface AdamUpdateAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export interface RMSPropUpdateAttrs {
  learningRate: number;
  decay: number;
  momentum: number;
  epsilon: number;
}

export interface MomentumUpdateAttrs {
  learningRate: number;
  momentum: number;
  useNesterov: boolean;
}

/** Whether the active backend implements `kernelName`; without it optimizers use tfjs's own update. */
export function hasUpdateKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

function run(kernelName: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor[] {
  return tf.engine().runKernel(kernelName, inputs, attrs as tf.NamedAttrMap) as tf.Tensor[];
}

/**
 * Returns [x', m', v']. `oneMinusAccBeta1/2` are tfjs's `1 - beta^t` scalars (float32, computed from the
 * optimizer's accBeta variables), passed as tensors so their float32 rounding is tfjs's own.
 */
export function adamUpdate(
  x: tf.Tensor,
  gradient: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  oneMinusAccBeta1: tf.Scalar,
  oneMinusAccBeta2: tf.Scalar,
  attrs: AdamUpdateAttrs,
): tf.Tensor[] {
  return run(ADAM_UPDATE, { x, gradient, m, v, oneMinusAccBeta1, oneMinusAccBeta2 }, attrs);
}

/** Returns [x', meanSquare', moment'] and, when `meanGrad` is given (centered RMSprop), meanGrad'. */
export function rmsPropUpdate(
  x: tf.Tensor,
  gradient: tf.Tensor,
  meanSquare: tf.Tensor,
  moment: tf.Tensor,
  meanGrad: tf.Tensor | null,
  attrs: RMSPropUpdateAttrs,
): tf.Tensor[] {
  const inputs: tf.NamedTensorMap = { x, gradient, meanSquare, moment };
  if (meanGrad) inputs.meanGrad = meanGrad;
  return run(RMSPROP_UPDATE, inputs, attrs);
}

/** Returns [x', accumulation']. */
export function momentumUpdate(
  x: tf.Tensor,
  gradient: tf.Tensor,
  accumulation: tf.Tensor,
  attrs: MomentumUpdateAttrs,
): tf.Tensor[] {
  return run(MOMENTUM_UPDATE, { x, gradient, accumulation }, attrs);
}
