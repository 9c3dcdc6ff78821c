import * as tf from '@tensorflow/tfjs';
import type { ModelInfo } from '../io/model_folder';

export type { Prediction } from '../models/top_k';

/** Whether the network's last layer already ends in softmax (the googlenet default) or gives logits. */
function endsInSoftmax(model: tf.LayersModel): boolean {
  const config = model.layers[model.layers.length - 1].getConfig() as { activation?: unknown };
  return (
    config.activation === 'softmax' || model.layers[model.layers.length - 1].getClassName() === 'Softmax'
  );
}

/** Runs batches of normalised HWC images through the model and returns class probabilities per image. */
export function classifier(
  model: tf.LayersModel,
  info: ModelInfo,
): (inputs: Float32Array[]) => Promise<Float32Array[]> {
  const [h, w, c] = info.preprocessing.inputShape;
  const size = h * w * c;
  const softmax = !endsInSoftmax(model);
  const classes = info.labels.length;
  return async (inputs) => {
    const batch = new Float32Array(inputs.length * size);
    inputs.forEach((x, i) => {
      if (x.length !== size) throw new Error(`input ${i} has ${x.length} values, expected ${size}`);
      batch.set(x, i * size);
    });
    const probs = tf.tidy(() => {
      const y = model.predict(tf.tensor4d(batch, [inputs.length, h, w, c])) as tf.Tensor;
      return softmax ? tf.softmax(y) : y;
    });
    const data = (await probs.data()) as Float32Array;
    probs.dispose();
    return inputs.map((_, i) => data.slice(i * classes, (i + 1) * classes));
  };
}
