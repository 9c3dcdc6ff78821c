import * as tf from '@tensorflow/tfjs';

export interface ChannelAffineLayerArgs {
  /** Per-channel factor, one per input channel. */
  scale: number[];
  /** Per-channel term added after scaling, one per input channel. */
  offset: number[];
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * `y[..., c] = x[..., c] * scale[c] + offset[c]` over the last (channel) axis, with fixed constants and no
 * weights: a per-channel re-normalisation inside the model, such as torchvision GoogLeNet's `transform_input`.
 */
export class ChannelAffine extends tf.layers.Layer {
  static className = 'ChannelAffine';
  readonly scale: number[];
  readonly offset: number[];

  constructor(args: ChannelAffineLayerArgs) {
    super(args);
    const ok = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isFinite(x));
    if (!ok(args.scale) || !ok(args.offset) || args.scale.length !== args.offset.length) {
      throw new Error(
        `ChannelAffine: scale and offset must be equally long lists of finite numbers, got ${JSON.stringify(args.scale)} and ${JSON.stringify(args.offset)}`,
      );
    }
    this.scale = [...args.scale];
    this.offset = [...args.offset];
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const shape = inputShape as tf.Shape;
    if (Array.isArray(shape[0]) || shape[shape.length - 1] !== this.scale.length) {
      throw new Error(
        `ChannelAffine '${this.name}': expects ${this.scale.length} channels on the last axis, got shape ${JSON.stringify(inputShape)}`,
      );
    }
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.add(tf.mul(x, tf.tensor1d(this.scale)), tf.tensor1d(this.offset));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}

tf.serialization.registerClass(ChannelAffine);

export function channelAffine(args: ChannelAffineLayerArgs): ChannelAffine {
  return new ChannelAffine(args);
}
