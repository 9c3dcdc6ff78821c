import * as tf from '@tensorflow/tfjs';
import { checkModelMatchesInfo, type ModelInfo } from '../io/model_folder';
import { checkPrecision, type InferenceOptions, plannedOutput } from './planned';

export type { InferenceOptions } from './planned';

/** The network gave NaN or Infinity: broken weights or preprocessing, never a prediction. */
export class NonFiniteOutputError extends Error {
  constructor(readonly item: string) {
    super(
      `${item}: the model's output is not finite (NaN or Infinity); its weights or preprocessing are broken`,
    );
    this.name = 'NonFiniteOutputError';
  }
}

/** Whether the network's last layer already ends in softmax (the googlenet default) or gives logits. */
export function endsInSoftmax(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  const config = last.getConfig() as { activation?: unknown };
  return config.activation === 'softmax' || last.getClassName() === 'Softmax';
}

/**
 * Class probabilities of a batch of normalised NHWC images, as one row of `classes` values per image:
 * softmax is applied exactly once (by the head, or here when the head is linear). The one inference step of
 * predict, evaluate, serve and report, so the same image gets the same numbers everywhere. A non-finite value
 * throws NonFiniteOutputError naming the image (`names[i]`, or its index in the batch). On the onednn engine
 * the network runs as a compiled plan (src/inference/planned.ts) at `options.precision`; a model the plan
 * cannot run falls back to tfjs in fp32 with one notice.
 */
export async function classProbabilities(
  model: tf.LayersModel,
  batch: tf.Tensor4D,
  names?: string[],
  options: InferenceOptions = {},
): Promise<Float32Array> {
  const n = batch.shape[0];
  const linear = !endsInSoftmax(model);
  const planned = plannedOutput(model, batch, options);
  const probs = tf.tidy(() => {
    const y = planned ? tf.tensor2d(planned, [n, planned.length / n]) : (model.predict(batch) as tf.Tensor);
    return linear ? tf.softmax(y) : y;
  });
  let data: Float32Array;
  try {
    data = (await probs.data()) as Float32Array;
  } finally {
    probs.dispose();
  }
  const classes = data.length / n;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const row = Math.floor(i / classes);
      throw new NonFiniteOutputError(names?.[row] ?? `image ${row} of the batch`);
    }
  }
  return data;
}

/**
 * classProbabilities over HWC Float32Arrays (decoded with the folder's preprocessing): the form serve's
 * batcher and the report feed it. Checks once that `info` describes this network.
 */
export function classifier(
  model: tf.LayersModel,
  info: ModelInfo,
  options: InferenceOptions = {},
): (inputs: Float32Array[], names?: string[]) => Promise<Float32Array[]> {
  checkModelMatchesInfo(model, info);
  checkPrecision(model, options);
  const [h, w, c] = info.preprocessing.inputShape;
  const size = h * w * c;
  const classes = info.labels.length;
  return async (inputs, names) => {
    const flat = new Float32Array(inputs.length * size);
    inputs.forEach((x, i) => {
      if (x.length !== size) throw new Error(`input ${i} has ${x.length} values, expected ${size}`);
      flat.set(x, i * size);
    });
    const batch = tf.tensor4d(flat, [inputs.length, h, w, c]);
    try {
      const data = await classProbabilities(model, batch, names, options);
      return inputs.map((_, i) => data.slice(i * classes, (i + 1) * classes));
    } finally {
      batch.dispose();
    }
  };
}
