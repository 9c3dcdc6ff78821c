// The one entry point that puts weights into a built model, whatever `--weights` / `weights:` names: a
// registry name (downloaded into the cache on first use), a shipped model, a model folder, or a file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import '../layers/lrn';
import { resolveModelFolder } from '../io/generations';
import { loadModelFolder, type Preprocessing, readModelInfo } from '../io/model_folder';
import { PRETRAINED, pretrainedFolder } from '../models/pretrained';
import { type DownloadOptions, downloadWeights } from './download';
import {
  BUILDER_FILE_FORMATS,
  fileForModel,
  findWeights,
  knownWeightsText,
  type PublishedWeights,
  type WeightsFormat,
} from './registry';

/** What travels with weights: the labels of the classifier, how images are prepared, where they came from. */
export interface WeightsMeta {
  categories: string[];
  preprocessing: Preprocessing;
  numClasses: number;
  /** The URL, shipped model name or path the weights came from. */
  source: string;
}

export interface LoadWeightsOptions {
  /** One line per event worth telling a person (a download, weights left as initialised). */
  print?: (line: string) => void;
  /**
   * Model folders and shipped models: every weight of the model must come from the source, same shape
   * (default true). False copies what fits by name and shape and leaves the rest (a new head) as built.
   */
  strict?: boolean;
  /** Where and how registry weights are downloaded. */
  download?: DownloadOptions;
}

/** A format loader (src/weights/*.ts); `print` receives what it loaded and what it left as initialised. */
type FormatLoader = (
  model: tf.LayersModel,
  file: string,
  options?: { print?: (line: string) => void },
) => Promise<void>;

/** Each file format's reader, imported when first used (h5wasm and onnx-proto load only when needed). */
const FORMAT_LOADERS: Record<WeightsFormat, () => Promise<FormatLoader>> = {
  pth: async () => (await import('./torchvision_googlenet')).loadTorchvisionGoogLeNetWeights,
  h5: async () => (await import('./keras_inception_v3')).loadKerasInceptionV3Weights,
  onnx: async () => (await import('./onnx_googlenet')).loadOnnxGoogLeNetWeights,
};

const FORMAT_NAMES: Record<WeightsFormat, string> = {
  pth: 'a PyTorch state_dict',
  h5: 'Keras HDF5 weights',
  onnx: 'an ONNX model',
};

/** The weights file format an extension names, or null. */
export function formatOfFile(file: string): WeightsFormat | null {
  const ext = path.extname(file).toLowerCase();
  return ext === '.pth' || ext === '.pt' ? 'pth' : ext === '.h5' ? 'h5' : ext === '.onnx' ? 'onnx' : null;
}

type Resolved =
  | { kind: 'published'; entry: PublishedWeights }
  | { kind: 'shipped'; name: string }
  | { kind: 'folder'; dir: string }
  | { kind: 'file'; file: string; format: WeightsFormat };

/** What `spec` names for `builder`, checked: an unknown name or a file of another builder's format throws. */
function resolveSpec(builder: string, spec: string): Resolved {
  const entry = findWeights(builder, spec);
  if (entry)
    return entry.kind === 'published' ? { kind: 'published', entry } : { kind: 'shipped', name: spec };
  if (Object.hasOwn(PRETRAINED, spec)) {
    throw new Error(`weights ${JSON.stringify(spec)} are for ${PRETRAINED[spec].builder}, not ${builder}`);
  }
  const stat = fs.statSync(spec, { throwIfNoEntry: false });
  if (stat?.isDirectory()) return { kind: 'folder', dir: spec };
  const format = formatOfFile(spec);
  if (stat?.isFile()) {
    if (!format) throw new Error(`${spec}: not a weights file (.pth, .h5 or .onnx) or a model folder`);
    const fits = BUILDER_FILE_FORMATS[builder];
    if (fits !== format) {
      const owner = Object.entries(BUILDER_FILE_FORMATS).find(([, f]) => f === format)?.[0];
      throw new Error(
        `${spec}: ${FORMAT_NAMES[format]} (.${format}) is read into ${owner}, not ${builder}${fits ? ` (which takes .${fits})` : ''}`,
      );
    }
    return { kind: 'file', file: spec, format };
  }
  if (format || spec.includes('/') || spec.includes(path.sep))
    throw new Error(`${spec}: no such file or folder`);
  throw new Error(`unknown weights ${JSON.stringify(spec)} for ${builder}; ${knownWeightsText(builder)}`);
}

/** A model folder's labels and preprocessing (readModelInfo, checked) as weights meta. */
function folderMeta(dir: string, source: string): WeightsMeta {
  const { labels, preprocessing } = readModelInfo(dir);
  return { categories: labels, preprocessing, numClasses: labels.length, source };
}

function publishedMeta(entry: PublishedWeights, url: string): WeightsMeta {
  const { categories, preprocessing, numClasses } = entry.meta;
  return { categories, preprocessing, numClasses, source: url };
}

/**
 * The meta of `spec` for `builder` without loading anything: a registry name's or shipped model's labels
 * and preprocessing, a model folder's labels.json and preprocessing.json; null for a weights file, which
 * carries none. Throws as loadWeights would for an unknown name or a file that does not fit the builder.
 */
export function weightsMeta(builder: string, spec: string): WeightsMeta | null {
  const resolved = resolveSpec(builder, spec);
  switch (resolved.kind) {
    case 'published':
      return publishedMeta(resolved.entry, fileForModel(resolved.entry, true).url);
    case 'shipped':
      return folderMeta(pretrainedFolder(resolved.name), resolved.name);
    case 'folder':
      return folderMeta(resolved.dir, resolved.dir);
    case 'file':
      return null;
  }
}

/** Whether the model ends in the source's classifier (rank-2 output of the source's class count). */
function hasSourceTop(model: tf.LayersModel, numClasses: number): boolean {
  const shape = model.outputs[0].shape;
  return shape.length === 2 && shape[1] === numClasses;
}

/**
 * Copies the weights of `named` into `model` by name. Strict: every model weight must be there with its
 * shape (else one line naming `where` and the weight). Not strict: what fits is copied, the rest stays as
 * built and is reported through `print`.
 */
export function copyNamedWeights(
  model: tf.LayersModel,
  named: tf.NamedTensorMap,
  where: string,
  options: { strict: boolean; print?: (line: string) => void },
): void {
  const skipped: string[] = [];
  const writes: [tf.LayerVariable, tf.Tensor][] = [];
  for (const weight of model.weights) {
    const source = named[weight.originalName];
    const problem = !source
      ? 'missing'
      : JSON.stringify(source.shape) !== JSON.stringify(weight.shape)
        ? `shape [${source.shape}] but the model's is [${weight.shape}]`
        : null;
    if (problem === null) writes.push([weight, source]);
    else if (options.strict) throw new Error(`${where}: weight ${weight.originalName} ${problem}`);
    else skipped.push(weight.originalName);
  }
  // Checked first, written after: a refused source leaves the model as it was.
  for (const [weight, source] of writes) weight.write(source);
  options.print?.(
    skipped.length
      ? `${where}: ${writes.length} weights loaded; ${skipped.length} left as initialised (${skipped.slice(0, 3).join(', ')}${skipped.length > 3 ? ', ...' : ''})`
      : `${where}: set ${writes.length} tensors`,
  );
}

/** Where two networks differ, layer by layer: a layer of `model` the source lacks or builds otherwise. */
function architectureProblem(model: tf.LayersModel, source: tf.LayersModel, strict: boolean): string | null {
  const byName = new Map(source.layers.map((l) => [l.name, l]));
  for (const layer of model.layers) {
    const theirs = byName.get(layer.name);
    const outputOf = (l: tf.layers.Layer) => JSON.stringify(l.outputShape);
    if (!theirs) {
      if (strict || layer.weights.length === 0) return `it has no layer ${layer.name}`;
      continue; // a new head layer, left as built
    }
    if (theirs.getClassName() !== layer.getClassName()) {
      return `its layer ${layer.name} is a ${theirs.getClassName()}, not a ${layer.getClassName()}`;
    }
    // A new head (another class count) differs in shape; the body must not.
    if (outputOf(theirs) !== outputOf(layer) && (strict || layer.weights.length === 0)) {
      return `its layer ${layer.name} outputs ${outputOf(theirs)}, not ${outputOf(layer)} (built with other arguments?)`;
    }
  }
  if (strict && source.layers.length !== model.layers.length) {
    return `it has ${source.layers.length} layers, the model ${model.layers.length}`;
  }
  return null;
}

/**
 * Loads the weights of model folder `dir` into `model` by name, after checking that the folder's network
 * is the model's layer by layer (same names, classes and output shapes): weights alone would also fit a
 * network built with other shape-free arguments (googlenet-cifar's stemPool) and predict nonsense.
 */
async function loadFolderWeights(
  model: tf.LayersModel,
  builder: string,
  dir: string,
  options: LoadWeightsOptions,
): Promise<void> {
  const strict = options.strict ?? true;
  const { model: source, info } = await loadModelFolder(dir);
  try {
    if (info.model !== 'unknown' && info.model !== builder) {
      throw new Error(`${dir}: holds a ${info.model} model, not ${builder}`);
    }
    const problem = architectureProblem(model, source, strict);
    if (problem) throw new Error(`${dir}: not the network ${builder} built here: ${problem}`);
    const named: tf.NamedTensorMap = {};
    for (const w of source.weights) named[w.originalName] = w.read();
    copyNamedWeights(model, named, dir, { strict, print: options.print });
  } finally {
    source.dispose();
  }
}

/** A model folder's own network and meta, refused when another builder made it. */
export async function loadFolderModel(
  builder: string,
  dir: string,
): Promise<{ model: tf.LayersModel; meta: WeightsMeta }> {
  const { model, info } = await loadModelFolder(dir);
  if (info.model !== 'unknown' && info.model !== builder) {
    model.dispose();
    throw new Error(`${dir}: holds a ${info.model} model, not ${builder}`);
  }
  const { labels: categories, preprocessing } = info;
  return { model, meta: { categories, preprocessing, numClasses: categories.length, source: dir } };
}

/**
 * Loads `spec` into `model`, built by `builder`: a registry name (its file downloaded into the cache on
 * first use, verified, then read by the builder's format loader; the file without the classifier when
 * the source has one and the model lacks the source's head), a shipped model name, a model folder, or a
 * .pth / .h5 / .onnx file. Returns the weights' meta (labels, preprocessing, source), null for a plain file.
 * A model without the classifier or with another class count takes the body: the meta's categories then
 * describe the source's classifier, not the model's.
 */
export async function loadWeights(
  model: tf.LayersModel,
  builder: string,
  spec: string,
  options: LoadWeightsOptions = {},
): Promise<WeightsMeta | null> {
  const resolved = resolveSpec(builder, spec);
  switch (resolved.kind) {
    case 'published': {
      const { entry } = resolved;
      const file = fileForModel(entry, hasSourceTop(model, entry.meta.numClasses));
      const local = await downloadWeights(file, { print: options.print, ...options.download });
      await (await FORMAT_LOADERS[entry.format]())(model, local, { print: options.print });
      return publishedMeta(entry, file.url);
    }
    case 'shipped': {
      const dir = pretrainedFolder(resolved.name);
      await loadFolderWeights(model, builder, dir, options);
      return folderMeta(dir, resolved.name);
    }
    case 'folder':
      await loadFolderWeights(model, builder, resolved.dir, options);
      return folderMeta(await resolveModelFolder(resolved.dir), resolved.dir);
    case 'file':
      await (await FORMAT_LOADERS[resolved.format]())(model, resolved.file, { print: options.print });
      return null;
  }
}
