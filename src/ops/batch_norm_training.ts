/**
 * Batch normalisation in training mode as one custom tfjs kernel with a registered gradient: the contract
 * between the BatchNormalization layer (src/layers/batch_normalization.ts) and the backends that implement
 * it (src/backend/kernels/). tfjs-layers computes the batch moments, the normalisation and their gradients
 * with a dozen element-wise kernels over the whole activation; a backend with these two kernels does each
 * direction in one pass. Backends without them keep tfjs-layers' own path.
 */
import * as tf from '@tensorflow/tfjs';
import { activeBackendHasKernels } from './has_kernels';

export const BATCH_NORM_TRAINING = 'InceptionBatchNormTraining';
export const BATCH_NORM_TRAINING_GRAD = 'InceptionBatchNormTrainingGrad';

export interface BatchNormTrainingAttrs {
  epsilon: number;
}

/** Whether the active backend implements the fused training kernels. */
export function hasBatchNormTrainingKernels(): boolean {
  return activeBackendHasKernels(BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD);
}

/**
 * Normalises `x` over every axis but the last with its own batch statistics: returns [y, mean, variance]
 * (biased variance, as tfjs's `moments`), y = (x - mean) / sqrt(variance + epsilon) * scale + offset.
 * Gradients flow to x, scale and offset through y (the statistics included), not through mean/variance.
 */
export function batchNormTraining(
  x: tf.Tensor,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  epsilon: number,
): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  const attrs: BatchNormTrainingAttrs = { epsilon };
  return tf
    .engine()
    .runKernel(BATCH_NORM_TRAINING, { x, scale, offset }, attrs as unknown as tf.NamedAttrMap) as [
    tf.Tensor,
    tf.Tensor1D,
    tf.Tensor1D,
  ];
}

tf.registerGradient({
  kernelName: BATCH_NORM_TRAINING,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, scale, mean, variance] = saved;
    const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    // Computed here, not in the closures: tfjs calls each closure in its own tidy, which would dispose
    // the other two gradients made by one kernel call.
    const [dx, dScale, dOffset] = tf
      .engine()
      .runKernel(BATCH_NORM_TRAINING_GRAD, { dy, x, scale, mean, variance }, attrs) as tf.Tensor[];
    return { x: () => dx, scale: () => dScale, offset: () => dOffset };
  },
});
