import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../random';
import { registerLayerClass, tfjsLayerClass } from './tfjs_classes';

export type DropoutLayerArgs = Parameters<typeof tf.layers.dropout>[0];
type TfjsDropout = ReturnType<typeof tf.layers.dropout>;

/** The fields of tfjs's Dropout that training mode reads (protected in its typings). */
interface DropoutState {
  rate: number;
  seed?: number;
  getNoiseShape(input: tf.Tensor): number[] | undefined;
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): void;
}

const TfjsDropoutClass = tfjsLayerClass<new (args: DropoutLayerArgs) => TfjsDropout>('Dropout');

/**
 * tfjs's Dropout with Keras 3's meaning of `seed`: with a seed, each training call draws a new mask from a
 * stream seeded by it (call n uses deriveSeed(seed, n)), so a seeded run is reproducible and still drops
 * different units every step. tfjs passes the seed itself to every draw, which repeats one mask forever.
 * Without a seed, or outside training, it is tfjs's layer. Same class name and config as tfjs's, so saved
 * models load anywhere as a plain Dropout; registering it under that name makes models loaded here use it.
 */
export class Dropout extends TfjsDropoutClass {
  static className = 'Dropout';
  /** Training calls so far: the position in the mask stream. */
  calls = 0;

  override call(
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: tf.serialization.ConfigDict,
  ): tf.Tensor | tf.Tensor[] {
    const state = this as unknown as DropoutState;
    if (state.seed == null || kwargs.training !== true || !(state.rate > 0 && state.rate < 1)) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      state.invokeCallHook(inputs, kwargs);
      const input = Array.isArray(inputs) ? inputs[0] : inputs;
      const seed = deriveSeed(state.seed as number, this.calls++);
      return tf.dropout(input, state.rate, state.getNoiseShape(input), seed);
    });
  }
}
registerLayerClass(Dropout);

/**
 * Moves every seeded Dropout of `model` to position `step` of its mask stream. The training loop calls it
 * with the global step number before each step, so a run resumed from a checkpoint draws the masks the
 * uninterrupted run would have drawn (each layer is called once per step).
 */
export function setDropoutStep(model: tf.LayersModel, step: number): void {
  for (const layer of model.layers) if (layer instanceof Dropout) layer.calls = step;
}

/** `tf.layers.dropout` with a fresh mask per training step when seeded (above). */
export function dropout(args: DropoutLayerArgs): Dropout {
  return new Dropout(args);
}
