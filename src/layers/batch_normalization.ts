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
    // Keras semantics: a non-trainable BatchNormalization runs in inference mode.
    if (kwargs.training && (this.inferenceMode || !this.trainable)) {
      return super.call(inputs, { ...kwargs, training: false });
    }
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const state = this as unknown as BatchNormalizationState;
    const axis = state.axis < 0 ? state.axis + input.rank : state.axis;
    const fused =
      kwargs.training === true &&
      axis === input.rank - 1 &&
      state.center &&
      state.scale &&
      input.dtype === 'float32' &&
      hasBatchNormTrainingKernels();
    if (!fused) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const [y, mean, variance] = batchNormTraining(
        input,
        state.gamma.read() as tf.Tensor1D,
        state.beta.read() as tf.Tensor1D,
        state.epsilon,
      );
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
registerLayerClass(BatchNormalization);

/** `tf.layers.batchNormalization` with the fast training mode above. */
export function batchNormalization(args: BatchNormalizationLayerArgs = {}): BatchNormalization {
  return new BatchNormalization(args);
}
