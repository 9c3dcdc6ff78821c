import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MODEL_JSON, readModelArtifacts } from '../io/model_folder';

/** A model trained with inception-net and shipped in the package, as a model folder under `models/`. */
export interface PretrainedModel {
  /** Builder that made it. */
  builder: string;
  /** The builder arguments it was trained with (numClasses and inputShape included). */
  args: {
    widthMultiplier: number;
    numClasses: number;
    inputShape: [number, number, number];
    stemPool?: boolean;
    batchNorm?: boolean;
  };
  /** Folder name under the package's `models/`. */
  folder: string;
}

/** Shipped models by the name `weights:` and `--model` take. README "Shipped model" has how each was trained. */
export const PRETRAINED: Record<string, PretrainedModel> = {
  cifar10: {
    builder: 'googlenet-cifar',
    args: { widthMultiplier: 0.5, numClasses: 10, inputShape: [32, 32, 3], stemPool: true, batchNorm: true },
    folder: 'cifar10',
  },
};

/** `models/` from dist/src/models/ or src/models/ alike. */
const MODELS_DIRS = ['../../../models', '../../models'];

/** The shipped model folder of `name` (throws when the name is unknown or the files are missing). */
export function pretrainedFolder(name: string): string {
  const entry = PRETRAINED[name];
  if (!entry) {
    throw new Error(
      `unknown shipped model ${JSON.stringify(name)}; shipped: ${Object.keys(PRETRAINED).join(', ')}`,
    );
  }
  for (const relative of MODELS_DIRS) {
    const dir = path.join(__dirname, relative, entry.folder);
    if (fs.existsSync(path.join(dir, MODEL_JSON))) return dir;
  }
  throw new Error(`shipped model ${name}: models/${entry.folder}/${MODEL_JSON} is missing from the package`);
}

/**
 * Loads the shipped weights of `name` into `model` (built with the same builder and arguments), matching
 * weights by name; float16-stored weights are dequantised. With `strict` false, weights the model lacks
 * (the classifier, when built with includeTop: false) are skipped. Synchronous, so builders can call it.
 */
export function loadPretrainedWeights(model: tf.LayersModel, name: string, strict = true): void {
  const dir = pretrainedFolder(name);
  const { weightData, weightSpecs } = readModelArtifacts(dir);
  let named: tf.NamedTensorMap;
  try {
    named = tf.io.decodeWeights(weightData as ArrayBuffer, weightSpecs ?? []);
  } catch (e) {
    throw new Error(`${path.join(dir, MODEL_JSON)}: cannot decode the weights (${(e as Error).message})`);
  }
  try {
    model.loadWeights(named, strict);
  } finally {
    tf.dispose(Object.values(named));
  }
}
