import type * as tf from '@tensorflow/tfjs';

/**
 * Whether a layer is part of the body (the convolutional feature extractor): its output is a feature map
 * larger than 1x1. The global pool, flatten, dropout and classifier after it are the top.
 */
export function isBodyLayer(layer: tf.layers.Layer): boolean {
  if (layer.getClassName() === 'InputLayer') return false;
  const shape = layer.outputShape as (number | null)[];
  return Array.isArray(shape) && shape.length === 4 && !(shape[1] === 1 && shape[2] === 1);
}
