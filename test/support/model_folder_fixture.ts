import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage } from '../../src/data/decode';
import { type Preprocessing, saveModelFolder } from '../../src/io/model_folder';
import { googlenet } from '../../src/models/googlenet';

/** The embedded CIFAR-10 sample (train/ and val/, one folder per class). */
export const CIFAR_SAMPLE = path.resolve(__dirname, '..', '..', '..', 'data', 'cifar10-sample');
export const CIFAR_LABELS = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

export const FIXTURE_PREPROCESSING: Preprocessing = {
  inputShape: [32, 32, 3],
  mean: [0.49, 0.48, 0.45],
  std: [0.25, 0.24, 0.26],
  resize: 'fill',
};

/**
 * Saves an untrained narrow googlenet (32x32, CIFAR-10 labels, seeded initial weights, so every run of the
 * tests sees the same network) as a model folder in a fresh temp dir. An
 * untrained head gives nearly the same top class for every image, which would make top-label comparisons
 * meaningless, so the head is set to a seeded random projection of the standardised pooled features
 * (mean and std over the sample's train images): different images get clearly different classes.
 */
export async function makeModelFolder(width = 0.1, logitScale = 4): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'inception-model-'));
  const model = googlenet({ inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: width, seed: 1 });
  const features = tf.model({ inputs: model.inputs, outputs: model.getLayer('avg_pool_5_3x3_1').output });
  const files = CIFAR_LABELS.flatMap((c) =>
    [0, 1, 2, 3].map((i) => path.join(CIFAR_SAMPLE, 'train', c, `000${i}.jpg`)),
  );
  const images = await Promise.all(files.map((f) => decodeImage(f, FIXTURE_PREPROCESSING)));
  const batch = tf.tensor4d(Float32Array.from(images.flatMap((x) => Array.from(x))), [
    images.length,
    32,
    32,
    3,
  ]);
  tf.tidy(() => {
    const f = features.predict(batch) as tf.Tensor2D;
    const { mean, variance } = tf.moments(f, 0);
    // A feature that is (nearly) constant over the sample (a dead ReLU: likely in a random narrow net) must
    // not be divided by ~0: its weight would amplify float rounding into visible output differences (an
    // ONNX-vs-tfjs comparison once saw 1.25e-2 that way). Flooring its scale keeps it nearly silent.
    const sd = tf.maximum(tf.sqrt(variance), 1e-2);
    const d = f.shape[1];
    const projection = tf.randomNormal([d, 10], 0, logitScale / Math.sqrt(d), 'float32', 11);
    const kernel = tf.div(projection, sd.reshape([d, 1]));
    const bias = tf.neg(tf.matMul(tf.div(mean, sd).reshape([1, d]), projection).reshape([10]));
    model.getLayer('output').setWeights([kernel, bias]);
  });
  batch.dispose();
  await saveModelFolder(dir, model, {
    model: 'googlenet',
    widthMultiplier: width,
    labels: CIFAR_LABELS,
    preprocessing: FIXTURE_PREPROCESSING,
  });
  model.dispose();
  return dir;
}
