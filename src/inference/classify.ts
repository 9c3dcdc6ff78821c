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

const softmaxHeads = new WeakMap<tf.LayersModel, boolean>();

/** Whether the network's last layer already ends in softmax (the googlenet default) or gives logits. */
export function endsInSoftmax(model: tf.LayersModel): boolean {
  let known = softmaxHeads.get(model);
  if (known === undefined) {
    const last = model.layers[model.layers.length - 1];
    const config = last.getConfig() as { activation?: unknown };
    known = config.activation === 'softmax' || last.getClassName() === 'Softmax';
    softmaxHeads.set(model, known);
  }
  return known;
}

/** A batch of n NHWC images as flat values and as a tensor; each is only made when a path needs it. */
interface BatchInput {
  n: number;
  values: () => Float32Array;
  tensor: () => tf.Tensor4D;
}

/**
 * The shared inference step. A softmax-headed model on the planned path returns the plan's output as it is:
 * no tfjs tensor round trip for a result that is already the answer (serve's batch-1 latency).
 */
async function probabilities(
  model: tf.LayersModel,
  input: BatchInput,
  names: string[] | undefined,
  options: InferenceOptions,
): Promise<Float32Array> {
  const { n } = input;
  const linear = !endsInSoftmax(model);
  const planned = plannedOutput(model, input.values, n, options);
  let data: Float32Array;
  if (planned && !linear) {
    data = planned;
  } else {
    const probs = tf.tidy(() => {
      const y = planned
        ? tf.tensor2d(planned, [n, planned.length / n])
        : (model.predict(input.tensor()) as tf.Tensor);
      return linear ? tf.softmax(y) : y;
    });
    try {
      data = (await probs.data()) as Float32Array;
    } finally {
      probs.dispose();
    }
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
 * Class probabilities of a batch of normalised NHWC images, as one row of `classes` values per image:
 * softmax is applied exactly once (by the head, or here when the head is linear). The one inference step of
 * predict, evaluate, serve and report, so the same image gets the same numbers everywhere. A non-finite value
 * throws NonFiniteOutputError naming the image (`names[i]`, or its index in the batch). On the onednn engine
 * the network runs as a compiled plan (src/inference/planned.ts) at `options.precision`; a model the plan
 * cannot run falls back to tfjs in fp32 with one notice.
 */
export function classProbabilities(
  model: tf.LayersModel,
  batch: tf.Tensor4D,
  names?: string[],
  options: InferenceOptions = {},
): Promise<Float32Array> {
  const input = { n: batch.shape[0], values: () => batch.dataSync() as Float32Array, tensor: () => batch };
  return probabilities(model, input, names, options);
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
    inputs.forEach((x, i) => {
      if (x.length !== size) throw new Error(`input ${i} has ${x.length} values, expected ${size}`);
    });
    const n = inputs.length;
    let flat: Float32Array | undefined;
    // A single image is its own batch: no copy into a batch buffer.
    const values = (): Float32Array => {
      if (n === 1) return inputs[0];
      if (!flat) {
        const all = new Float32Array(n * size);
        inputs.forEach((x, i) => {
          all.set(x, i * size);
        });
        flat = all;
      }
      return flat;
    };
    let batch: tf.Tensor4D | undefined;
    const tensor = (): tf.Tensor4D => {
      batch ??= tf.tensor4d(values(), [n, h, w, c]);
      return batch;
    };
    try {
      const data = await probabilities(model, { n, values, tensor }, names, options);
      return inputs.map((_, i) => data.slice(i * classes, (i + 1) * classes));
    } finally {
      batch?.dispose();
    }
  };
}
