/**
 * PRIVATE MINIMAL VERSION (branch fine-tune), to be replaced at merge by the weights-registry branch's
 * src/weights/load.ts, which has the same two signatures (ISSUE11.md) and also reads registry names
 * ('imagenet') and .pth/.h5/.onnx files. This one handles what fine-tuning needs without them: a shipped model
 * name ('cifar10') and a model folder (from `inception train`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CURRENT } from '../io/generations';
import {
  INFO_JSON,
  LABELS_JSON,
  PREPROCESSING_JSON,
  type Preprocessing,
  readModelArtifacts,
} from '../io/model_folder';
import { PRETRAINED, pretrainedFolder } from '../models/pretrained';
import { copyMatchingWeights } from './copy_weights';

/** What travels with a set of weights: its classes, how its inputs were normalised, where it came from. */
export interface WeightsMeta {
  categories: string[];
  preprocessing: Preprocessing;
  numClasses: number;
  source: string;
}

/** The model folder a spec names (a shipped model's folder for its name), or throws naming the spec. */
function folderOf(builder: string, spec: string): string {
  if (Object.hasOwn(PRETRAINED, spec)) {
    const shipped = PRETRAINED[spec];
    if (shipped.builder !== builder) {
      throw new Error(`weights ${spec}: made by ${shipped.builder}, not ${builder}`);
    }
    return pretrainedFolder(spec);
  }
  const stat = fs.statSync(spec, { throwIfNoEntry: false });
  if (!stat) {
    throw new Error(
      `weights ${JSON.stringify(spec)}: neither a shipped model (${Object.keys(PRETRAINED).join(', ')}) nor an existing model folder`,
    );
  }
  if (!stat.isDirectory()) {
    throw new Error(`weights ${spec}: weights files (.pth, .h5, .onnx) are not supported by this build`);
  }
  // A folder written by `inception train` publishes its files through `current` (src/io/generations.ts).
  const current = path.join(spec, CURRENT);
  const dir = fs.existsSync(current) ? fs.realpathSync(current) : spec;
  const infoFile = path.join(dir, INFO_JSON);
  if (fs.existsSync(infoFile)) {
    const made = readJson<{ model?: string }>(infoFile).model;
    if (made && made !== 'unknown' && made !== builder) {
      throw new Error(`weights ${spec}: made by ${made}, not ${builder}`);
    }
  }
  return dir;
}

function readJson<T>(file: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file}: no such file`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
}

/** The meta of the weights `spec` names for `builder`, without loading them. */
export function weightsMeta(builder: string, spec: string): WeightsMeta | null {
  const dir = folderOf(builder, spec);
  const categories = readJson<string[]>(path.join(dir, LABELS_JSON));
  const preprocessing = readJson<Preprocessing>(path.join(dir, PREPROCESSING_JSON));
  return { categories, preprocessing, numClasses: categories.length, source: dir };
}

/**
 * Copies the weights `spec` names into `model` (built by `builder`): every layer of the body must be there
 * with the same weight shapes; the classifier is copied only when the model has one of the same shape (another
 * class count, or no top, keeps its own). Returns the weights' meta.
 */
export async function loadWeights(
  model: tf.LayersModel,
  builder: string,
  spec: string,
  options: { print?: (line: string) => void; strict?: boolean } = {},
): Promise<WeightsMeta | null> {
  const meta = weightsMeta(builder, spec);
  const dir = meta!.source;
  const source = await tf.loadLayersModel({ load: async () => readModelArtifacts(dir) });
  try {
    const { set, skipped } = copyMatchingWeights(source, model, `weights ${spec}`);
    options.print?.(
      `weights ${spec}: set ${set} tensors${skipped.length ? `; kept the model's own ${skipped.join(', ')} (another class count or no top)` : ''}`,
    );
  } finally {
    source.dispose();
  }
  return meta;
}
