import * as tf from '@tensorflow/tfjs';
import { Hdf5Reader, type KerasH5Layer, type KerasH5Weight, kerasLegacyLayers } from './hdf5';

export interface KerasWeightsOptions {
  /** Told when only part of the file fits (a top left out or left as initialised). Default: stderr. */
  print?: (line: string) => void;
}

/** The last component of a weight name without TF's `:0` (`conv2d_1/kernel:0` → `kernel`). */
function weightKind(name: string): string {
  return name.replace(/:\d+$/, '').split('/').at(-1) ?? name;
}

const shapeText = (shape: readonly (number | null)[]) => `[${shape.join(', ')}]`;

/** Pairs of (model variable, file weight), checked for name and shape; throws one line on the first misfit. */
function pairLayer(
  file: string,
  model: tf.layers.Layer,
  saved: KerasH5Layer,
): [tf.LayerVariable, KerasH5Weight][] {
  const variables = model.weights;
  const where = `${file}: layer ${saved.name} (the model's ${model.name})`;
  if (variables.length !== saved.weights.length) {
    throw new Error(
      `${where}: ${saved.weights.length} weights (${saved.weights.map((w) => weightKind(w.name)).join(', ')}), the model's layer has ${variables.length} (${variables.map((v) => weightKind(v.originalName)).join(', ')})`,
    );
  }
  return variables.map((variable, i) => {
    const weight = saved.weights[i];
    if (weightKind(weight.name) !== weightKind(variable.originalName)) {
      throw new Error(
        `${where}: weight ${weight.name} where the model has ${weightKind(variable.originalName)}`,
      );
    }
    if (shapeText(weight.shape) !== shapeText(variable.shape)) {
      throw new Error(
        `${where}: weight ${weight.name} has shape ${shapeText(weight.shape)}, the model's is ${shapeText(variable.shape)}`,
      );
    }
    return [variable, weight];
  });
}

/**
 * Copies Keras's published InceptionV3 weights (`inception_v3_weights_tf_dim_ordering_tf_kernels.h5`, or
 * `..._notop.h5`, or any Keras legacy .h5 of `keras.applications.InceptionV3`) into a model built by
 * `inceptionV3`. As Keras's `load_weights` does for legacy files, layers are matched by their order among
 * the layers with weights (names differ between Keras versions), each weight checked for kind and shape.
 * The body must fit completely; the top (`predictions`) is loaded when both have it with the same shape,
 * else left as it is and reported through `print`: a notop file into a model with a top, a top file into a
 * model without one or with another class count. Every value is checked (finite) before any is written, so
 * a refused file leaves the model as it was. Errors: one line naming the file and the layer or weight.
 */
export async function loadKerasInceptionV3Weights(
  model: tf.LayersModel,
  file: string,
  options: KerasWeightsOptions = {},
): Promise<void> {
  const print = options.print ?? ((line: string) => process.stderr.write(`${line}\n`));
  const withWeights = model.layers.filter((layer) => layer.weights.length > 0);
  // The body is every layer with weights up to the first Dense one (`predictions`); the rest is the top.
  const firstDense = withWeights.findIndex((layer) => layer.getClassName() === 'Dense');
  const body = firstDense < 0 ? withWeights : withWeights.slice(0, firstDense);
  const head = withWeights.slice(body.length);
  const reader = await Hdf5Reader.open(file);
  try {
    const saved = kerasLegacyLayers(reader);
    const extra = saved.length - body.length;
    if (extra < 0 || extra > 1) {
      throw new Error(
        `${file}: ${saved.length} layers with weights, but the model's body has ${body.length} (${body.length + 1} with a top): not weights for this model`,
      );
    }
    const pairs = body.flatMap((layer, i) => pairLayer(file, layer, saved[i]));
    const notes: string[] = [];
    const savedTop = extra === 1 ? saved[body.length] : undefined;
    if (head.length === 1 && savedTop) {
      const fits =
        savedTop.weights.length === head[0].weights.length &&
        savedTop.weights.every((w, i) => shapeText(w.shape) === shapeText(head[0].weights[i].shape));
      if (fits) pairs.push(...pairLayer(file, head[0], savedTop));
      else {
        notes.push(
          `its top ${savedTop.name} (${savedTop.weights.map((w) => shapeText(w.shape)).join(', ')}) does not fit the model's ${head[0].name} (${head[0].weights.map((w) => shapeText(w.shape)).join(', ')}), left as initialised`,
        );
      }
    } else if (head.length > 0) {
      const names = head.map((l) => l.name).join(', ');
      notes.push(
        savedTop
          ? `its top ${savedTop.name} does not fit the model's ${names}, left as initialised`
          : `it has no top: the model's ${names} left as initialised`,
      );
    } else if (savedTop) {
      notes.push(`its top ${savedTop.name} not loaded: the model has none`);
    }
    const values = pairs.map(([variable, weight]) => {
      const data = reader.readFloat32(weight.path);
      if (data.length !== tf.util.sizeFromShape(variable.shape as number[])) {
        throw new Error(
          `${file}: weight ${weight.name}: ${data.length} values for shape ${shapeText(weight.shape)}`,
        );
      }
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`${file}: weight ${weight.name}: value ${data[bad]} at index ${bad}`);
      return data;
    });
    pairs.forEach(([variable], i) => {
      const value = tf.tensor(values[i], variable.shape as number[], 'float32');
      variable.write(value);
      value.dispose();
    });
    if (notes.length > 0) {
      print(`${file}: loaded the body, ${pairs.length} tensors; ${notes.join('; ')}`);
    }
  } finally {
    reader.close();
  }
}
