import * as tf from '@tensorflow/tfjs';
import { batchNormTraining, hasBatchNormTrainingKernels } from '../ops/batch_norm_training';
import { registerLayerClass, tfjsLayerClass } from './tfjs_classes';

export type BatchNormalizationLayerArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type TfjsBatchNormalization = ReturnType<typeof tf.layers.batchNormalization>;

/** The fields of tfjs's BatchNormalization that training mode reads (private in its typings). */
interface BatchNormalizationState {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

const TfjsBatchNormalizationClass =
  tfjsLayerClass<new (args?: BatchNormalizationLayerArgs) => TfjsBatchNormalization>('BatchNormalization');

/**
 * tfjs's BatchNormalization with a fast training mode: on a backend with the fused kernels (`onednn`), the
 * batch statistics, the normalisation and its gradient take one native pass each instead of a dozen
 * element-wise kernels (a BN GoogLeNet trains ~2x faster). Same class name, config, weights and inference
 * path as tfjs's, so saved models load anywhere as a plain BatchNormalization; registering it under that
 * name makes models loaded here use it too. As in Keras (not tfjs), a non-trainable layer runs in inference
 * mode in training too: it normalises with its moving statistics and does not update them.
 */
export class BatchNormalization extends TfjsBatchNormalizationClass {
  static className = 'BatchNormalization';

  /**
   * Normalise with the moving statistics and leave them as they are, even in training (set by fine-tuning
   * for the BN layers it unfreezes: their gamma and beta train, their statistics stay the pretrained ones,
   * as the Keras transfer-learning guide recommends). A frozen layer (`trainable = false`) runs so anyway.
   */
  inferenceMode = false;

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[] {
    if (kwargs.training !== true) return super.call(inputs, kwargs);
    // Keras semantics: a non-trainable BatchNormalization runs in inference mode.
    if (this.inferenceMode || !this.trainable) return super.call(inputs, { ...kwargs, training: false });
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const state = this as unknown as BatchNormalizationState;
    const axis = state.axis < 0 ? state.axis + input.rank : state.axis;
    const fused = axis === input.rank - 1 && input.dtype === 'float32' && hasBatchNormTrainingKernels();
    // tfjs's own training path reads gamma and beta unconditionally: without scale or center (Keras's
    // InceptionV3 has no gamma) it throws, so those always take the paths below.
    if (!fused && state.center && state.scale) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const channels = input.shape[axis];
      const gamma = state.scale ? (state.gamma.read() as tf.Tensor1D) : tf.ones([channels]);
      const beta = state.center ? (state.beta.read() as tf.Tensor1D) : tf.zeros([channels]);
      const [y, mean, variance] = fused
        ? batchNormTraining(input, gamma as tf.Tensor1D, beta as tf.Tensor1D, state.epsilon)
        : batchNormTrainingOps(input, axis, gamma, beta, state.epsilon);
      // tfjs's (Keras's) moving averages, with the biased batch variance as tfjs uses.
      const decay = 1 - state.momentum;
      for (const [variable, value] of [
        [state.movingMean, mean],
        [state.movingVariance, variance],
      ] as const) {
        tf.tidy(() => {
          const old = variable.read();
          variable.write(tf.sub(old, tf.mul(tf.sub(old, value), decay)));
        });
      }
      return y;
    });
  }
}

/** Batch normalisation over every axis but `axis` from tfjs ops: [y, batch mean, biased batch variance]. */
function batchNormTrainingOps(
  x: tf.Tensor,
  axis: number,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  const axes = x.shape.map((_, i) => i).filter((i) => i !== axis);
  const { mean, variance } = tf.moments(x, axes, true);
  const broadcast = mean.shape;
  // Plain element-wise ops: tf.batchNorm's gradient takes only rank-1 or full-shape parameters.
  const scale = tf.mul(tf.rsqrt(tf.add(variance, epsilon)), tf.reshape(gamma, broadcast));
  const y = tf.add(tf.mul(tf.sub(x, mean), scale), tf.reshape(beta, broadcast));
  return [y, tf.reshape(mean, [-1]), tf.reshape(variance, [-1])];
}
registerLayerClass(BatchNormalization);

/** `tf.layers.batchNormalization` with the fast training mode above. */
export function batchNormalization(args: BatchNormalizationLayerArgs = {}): BatchNormalization {
  return new BatchNormalization(args);
}
