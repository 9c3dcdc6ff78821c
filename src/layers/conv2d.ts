import * as tf from '@tensorflow/tfjs';
import { conv2dBiasRelu, hasConv2DBiasReluKernels } from '../ops/conv2d_bias_relu';
import { registerLayerClass, tfjsLayerClass } from './tfjs_classes';

export type Conv2DLayerArgs = Parameters<typeof tf.layers.conv2d>[0];
type TfjsConv2D = ReturnType<typeof tf.layers.conv2d>;

/** The fields of tfjs's Conv2D that the fused path reads (protected in its typings). */
interface Conv2DState {
  rank: number;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number[];
  activation: { getClassName(): string };
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
}

const TfjsConv2DClass = tfjsLayerClass<new (args: Conv2DLayerArgs) => TfjsConv2D>('Conv2D');

/**
 * tfjs's Conv2D, with ReLU convolutions trained as one fused kernel on a backend that has it (`onednn`):
 * tfjs fuses bias and ReLU only outside training, so a training step would otherwise run conv, bias add and
 * ReLU separately and keep two activations per layer for the backward pass (src/ops/conv2d_bias_relu.ts).
 * Same class name, config, weights and results as tfjs's, so saved models load anywhere as a plain Conv2D;
 * registering it under that name makes models loaded here use it too.
 */
export class Conv2D extends TfjsConv2DClass {
  static className = 'Conv2D';

  override call(
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: tf.serialization.ConfigDict,
  ): tf.Tensor | tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const state = this as unknown as Conv2DState;
    const fused =
      state.rank === 2 &&
      input.rank === 4 &&
      input.dtype === 'float32' &&
      state.activation.getClassName() === 'relu' &&
      state.dataFormat === 'channelsLast' &&
      (state.padding === 'same' || state.padding === 'valid') &&
      state.dilationRate.every((d) => d === 1) &&
      hasConv2DBiasReluKernels();
    if (!fused) return super.call(inputs, kwargs);
    return tf.tidy(() =>
      conv2dBiasRelu(
        input as tf.Tensor4D,
        state.kernel.read() as tf.Tensor4D,
        state.bias ? (state.bias.read() as tf.Tensor1D) : null,
        [state.strides[0], state.strides[1]],
        state.padding as 'same' | 'valid',
      ),
    );
  }
}
registerLayerClass(Conv2D);

/** `tf.layers.conv2d` with the fused training path above. */
export function conv2d(args: Conv2DLayerArgs): Conv2D {
  return new Conv2D(args);
}
