import type * as tf from '@tensorflow/tfjs';

/**
 * The FLOP convention of the bench: 2 FLOPs per multiply-accumulate of the convolutions and dense layers,
 * nothing for bias, activations, pooling or concatenation; a training step counts 3x the forward pass
 * (forward, gradient with respect to the inputs, gradient with respect to the weights).
 */
export const FLOP_CONVENTION =
  'FLOPs = 2 x multiply-accumulates of conv and dense layers (bias, activations, pooling not counted); training step = 3 x forward';

export const TRAINING_FLOP_FACTOR = 3;

/**
 * Forward FLOPs for one image, from the model's layers: every `*kernel` weight (conv, depthwise, pointwise,
 * dense) is applied once per output position, so its MACs are its size times the layer's output positions.
 */
export function forwardFlopsPerImage(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const outputShape = layer.outputShape as (number | null)[];
    const positions = outputShape.slice(1, -1).reduce<number>((a, d) => a * (d ?? 1), 1);
    for (const w of layer.weights) {
      if (!/kernel$/.test(w.originalName ?? w.name)) continue;
      macs += positions * w.shape.reduce<number>((a, d) => a * (d ?? 1), 1);
    }
  }
  return 2 * macs;
}
