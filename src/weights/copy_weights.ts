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

function shapeOf(t: tf.Tensor | tf.LayerVariable): string {
  return `[${t.shape.join(',')}]`;
}

/**
 * Copies `source`'s weights into `target` layer by layer, by name: the two bodies must have the same layers
 * (a stride-2 pool has no weights, so comparing weights alone would not see it) with the same weight shapes,
 * else an error prefixed `where` names the layer or tensor. Top layers (the classifier) are copied when they
 * have the same shapes and otherwise left as the target has them (`skipped`: another class count, no top).
 */
export function copyMatchingWeights(
  source: tf.LayersModel,
  target: tf.LayersModel,
  where: string,
): { set: number; skipped: string[] } {
  const bodyNames = (m: tf.LayersModel) => new Set(m.layers.filter(isBodyLayer).map((l) => l.name));
  const sourceBody = bodyNames(source);
  const targetBody = bodyNames(target);
  for (const name of targetBody) {
    if (!sourceBody.has(name)) {
      throw new Error(`${where}: no layer ${name} in the weights (the model was built with other options?)`);
    }
  }
  for (const name of sourceBody) {
    if (!targetBody.has(name)) {
      throw new Error(
        `${where}: layer ${name} of the weights is not in the model built here (built with other options?)`,
      );
    }
  }
  let set = 0;
  const skipped: string[] = [];
  for (const layer of target.layers) {
    const own = layer.weights;
    if (!own.length) continue;
    const from = source.layers.find((l) => l.name === layer.name);
    const body = targetBody.has(layer.name);
    // The source's own variables (getWeights does not copy): the caller disposes the source afterwards.
    const values = from?.getWeights() ?? [];
    const fits =
      from !== undefined &&
      values.length === own.length &&
      values.every((v, i) => shapeOf(v) === shapeOf(own[i]));
    if (!fits) {
      if (!body) {
        skipped.push(layer.name);
        continue;
      }
      const i = values.findIndex((v, k) => own[k] && shapeOf(v) !== shapeOf(own[k]));
      const detail =
        i >= 0
          ? `${own[i].originalName} is ${shapeOf(values[i])} in the weights but ${shapeOf(own[i])} in the model`
          : `layer ${layer.name} holds ${values.length} tensors in the weights but ${own.length} in the model`;
      throw new Error(`${where}: ${detail} (the model was built with other options?)`);
    }
    layer.setWeights(values);
    set += values.length;
  }
  return { set, skipped };
}
