import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic';
import { resolveModelFolder } from './generations';
import {
  type ModelQuantization,
  QUANTIZATION_JSON,
  QUANTIZED_PRECISION,
  quantizationProblem,
  weightsSha256,
} from './quantization_file';

/**
 * How images become model input; saved as `preprocessing.json` so evaluate, predict, serve and export all
 * feed the network exactly as training did: pixel/255 → resize (to inputShape / cropFraction) → centre crop
 * to inputShape → (x - mean) / std per channel.
 */
export interface Preprocessing {
  /** [height, width, channels] of the model input. */
  inputShape: [number, number, number];
  /** Per-channel mean of pixel/255 over the training images. */
  mean: number[];
  /** Per-channel standard deviation of pixel/255 over the training images. */
  std: number[];
  /** How images of another size reach inputShape: sharp's `fill` (stretch) or `cover` (centre crop). */
  resize: 'fill' | 'cover';
  /**
   * The centre crop's share of the resized image, in (0, 1] (timm's crop_pct); absent means 1 (no crop).
   * The image is first resized (as `resize` says) to inputShape / cropFraction, then its centre inputShape
   * is cut out: torchvision's "resize 256, centre crop 224" is `resize: 'cover'`, cropFraction 224/256.
   */
  cropFraction?: number;
}

/** What a model folder says about the network it holds. */
export interface ModelInfo {
  /** Builder name (`googlenet`, ...). */
  model: string;
  widthMultiplier: number;
  labels: string[];
  preprocessing: Preprocessing;
  /**
   * A quantized folder's calibration (`quantization.json`, declared by model-info.json's `precision: "int8"`);
   * absent for a float folder. The weights stay float: int8 engines derive weight scales from them.
   */
  quantization?: ModelQuantization;
}

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const LABELS_JSON = 'labels.json';
export const PREPROCESSING_JSON = 'preprocessing.json';
export const INFO_JSON = 'model-info.json';

/** Name of the first float32 weight in `data` (laid out as `specs` say) holding NaN or Infinity, or null. */
export function nonFiniteWeightName(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): string | null {
  let offset = 0;
  for (const spec of specs) {
    const bytes = weightSpecBytes(spec);
    if (spec.dtype === 'float32' && !spec.quantization) {
      const values =
        offset % 4 === 0
          ? new Float32Array(data, offset, bytes / 4)
          : new Float32Array(data.slice(offset, offset + bytes));
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return spec.name;
    }
    offset += bytes;
  }
  return null;
}

/** Throws naming `dir` and the weight unless every float32 weight is finite: NaN is never saved as a model. */
export function refuseNonFiniteWeights(
  dir: string,
  specs: tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
): void {
  const name = nonFiniteWeightName(specs, data);
  if (name) throw new Error(`${dir}: refusing to save weights holding NaN or Infinity (${name})`);
}

/**
 * A tfjs IOHandler writing `model.json` + one `weights.bin` into a folder, each file atomically; weights
 * holding NaN or Infinity are refused.
 */
export function folderSaver(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      const weights = artifacts.weightData
        ? new Uint8Array(tf.io.concatenateArrayBuffers([artifacts.weightData].flat()))
        : new Uint8Array();
      refuseNonFiniteWeights(dir, artifacts.weightSpecs ?? [], weights.buffer as ArrayBuffer);
      // Weights first: a crash between the two writes leaves the old model.json, which still describes a
      // weights file of the old size, and load detects the mismatch instead of reading garbage.
      await writeFileAtomic(path.join(dir, WEIGHTS_BIN), weights);
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

function explainRead(file: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  return new Error(`${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
}

function readSyncOrExplain(file: string): Buffer {
  try {
    return fsSync.readFileSync(file);
  } catch (e) {
    throw explainRead(file, e);
  }
}

/** Bytes one element of a stored weight takes (its quantized dtype when quantized). */
const BYTES_PER_ELEMENT: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  float16: 2,
  uint8: 1,
  uint16: 2,
};

/** Bytes a weight takes in a weights file, as its manifest entry describes it. */
export function weightSpecBytes(spec: tf.io.WeightsManifestEntry): number {
  return spec.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[spec.quantization?.dtype ?? spec.dtype];
}

/**
 * The artifacts of a model folder written by folderSaver or `export --format tfjs`: model.json and every
 * weights file it lists, checking the weights are whole. Synchronous, so builders can load shipped weights.
 */
export function readModelArtifacts(dir: string): tf.io.ModelArtifacts {
  const jsonPath = path.join(dir, MODEL_JSON);
  let modelJson: any;
  try {
    modelJson = JSON.parse(readSyncOrExplain(jsonPath).toString('utf8'));
  } catch (e) {
    throw new Error(
      (e as Error).message.startsWith(jsonPath) ? (e as Error).message : `${jsonPath}: not valid JSON`,
    );
  }
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${jsonPath}: not a tfjs layers model (modelTopology or weightsManifest missing)`);
  }
  const specs: tf.io.WeightsManifestEntry[] = modelJson.weightsManifest.flatMap((g: any) => g.weights);
  const buffers: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) buffers.push(readSyncOrExplain(path.join(dir, p)));
  }
  const data = Buffer.concat(buffers);
  const expected = specs.reduce((n, s) => n + weightSpecBytes(s), 0);
  if (data.byteLength !== expected) {
    throw new Error(
      `${path.join(dir, WEIGHTS_BIN)}: weights file is ${data.byteLength} bytes but model.json describes ${expected} (truncated or from another model)`,
    );
  }
  return {
    modelTopology: modelJson.modelTopology,
    trainingConfig: modelJson.trainingConfig,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    weightSpecs: specs,
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
  };
}

/** A tfjs IOHandler reading a model folder (readModelArtifacts). */
export function folderLoader(dir: string): tf.io.IOHandler {
  return { load: async (): Promise<tf.io.ModelArtifacts> => readModelArtifacts(dir) };
}

/** Saves the network and what describes it (labels, preprocessing, builder) into `dir`, atomically per file. */
export async function saveModelFolder(dir: string, model: tf.LayersModel, info: ModelInfo): Promise<void> {
  await model.save(folderSaver(dir));
  await writeFileAtomic(path.join(dir, LABELS_JSON), `${JSON.stringify(info.labels, null, 2)}\n`);
  await writeFileAtomic(
    path.join(dir, PREPROCESSING_JSON),
    `${JSON.stringify(info.preprocessing, null, 2)}\n`,
  );
  await writeFileAtomic(
    path.join(dir, INFO_JSON),
    `${JSON.stringify({ model: info.model, widthMultiplier: info.widthMultiplier }, null, 2)}\n`,
  );
}

/** Smallest std accepted: below it (pixel/255 - mean) / std leaves float32's finite range for no use. */
export const MIN_PREPROCESSING_STD = 1e-6;

/**
 * What is wrong with a preprocessing description, as `field: problem` (null when usable): inputShape is
 * [height, width, 1 or 3] of positive integers, resize is fill or cover, cropFraction (when present) is in
 * (0, 1], and mean and std have one finite
 * value per channel, the mean in [0, 1] (a mean of pixel/255) and std >= MIN_PREPROCESSING_STD, so that
 * normalised inputs stay finite.
 */
export function preprocessingProblem(prep: Preprocessing): string | null {
  if (prep === null || typeof prep !== 'object') return 'expected a JSON object';
  const shape = prep.inputShape as unknown;
  if (
    !Array.isArray(shape) ||
    shape.length !== 3 ||
    !shape.every((n) => Number.isInteger(n) && n > 0) ||
    (shape[2] !== 1 && shape[2] !== 3)
  ) {
    return `inputShape must be [height, width, 1 or 3] of positive integers, got ${JSON.stringify(shape)}`;
  }
  if (prep.resize !== 'fill' && prep.resize !== 'cover') {
    return `resize must be "fill" or "cover", got ${JSON.stringify(prep.resize)}`;
  }
  const crop = prep.cropFraction as unknown;
  if (crop !== undefined && (typeof crop !== 'number' || !Number.isFinite(crop) || crop <= 0 || crop > 1)) {
    return `cropFraction must be a number in (0, 1], got ${JSON.stringify(crop)}`;
  }
  const c = shape[2];
  for (const field of ['mean', 'std'] as const) {
    const values = prep[field] as unknown;
    if (!Array.isArray(values) || values.length !== c) {
      return `${field} must hold ${c} numbers (one per channel), got ${JSON.stringify(values)}`;
    }
    for (const [k, v] of values.entries()) {
      const bad =
        typeof v !== 'number' || !Number.isFinite(v)
          ? 'not a finite number'
          : field === 'mean' && (v < 0 || v > 1)
            ? 'outside [0, 1] (a mean of pixel/255)'
            : field === 'std' && v < MIN_PREPROCESSING_STD
              ? `below ${MIN_PREPROCESSING_STD} (std must be > 0)`
              : null;
      if (bad) return `${field}[${k}] is ${JSON.stringify(v)}: ${bad}`;
    }
  }
  return null;
}

/**
 * Throws a one-line error, prefixed `where`, unless `info` describes `model`: usable preprocessing whose
 * inputShape is the network's input, and one label per output unit.
 */
export function checkModelMatchesInfo(
  model: tf.LayersModel,
  info: ModelInfo,
  where: { preprocessing: string; labels: string } = { preprocessing: 'preprocessing', labels: 'labels' },
): void {
  const problem = preprocessingProblem(info.preprocessing);
  if (problem) throw new Error(`${where.preprocessing}: ${problem}`);
  const input = (model.inputs[0].shape as (number | null)[]).slice(1);
  if (JSON.stringify(input) !== JSON.stringify(info.preprocessing.inputShape)) {
    throw new Error(
      `${where.preprocessing}: inputShape is [${info.preprocessing.inputShape}] but the model takes [${input}]`,
    );
  }
  const units = (model.outputs[0].shape as number[])[1];
  if (units !== info.labels.length) {
    throw new Error(`${where.labels}: ${info.labels.length} labels but the model has ${units} outputs`);
  }
}

/**
 * Loads a model folder: the network (custom layers must be registered first) and its description, checked
 * (preprocessingProblem, the input shape, one label per output): every command loads folders through here.
 */
export async function loadModelFolder(folder: string): Promise<{ model: tf.LayersModel; info: ModelInfo }> {
  const stat = await fs.stat(folder).catch(() => null);
  if (!stat?.isDirectory()) throw new Error(`${folder}: no such model folder`);
  // Every file from one generation. Publishing deletes the generation it replaces: if that happened while
  // this read, the read failed, and the newly published generation is read whole instead.
  const dir = await resolveModelFolder(folder);
  try {
    return await loadResolvedFolder(dir);
  } catch (e) {
    const now = await resolveModelFolder(folder).catch(() => dir);
    if (now === dir) throw e;
    return loadResolvedFolder(now);
  }
}

function parseJson<T>(file: string, bytes: Buffer): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
}

async function readJson<T>(file: string): Promise<T> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw explainRead(file, e);
  }
  return parseJson<T>(file, bytes);
}

/** model-info.json is optional (folders of older versions); `precision: "int8"` marks a quantized folder. */
type InfoJson = { model: string; widthMultiplier: number; precision?: unknown };
const UNKNOWN_INFO: InfoJson = { model: 'unknown', widthMultiplier: 1 };

/** The parsed labels.json, preprocessing.json and model-info.json of `dir`, checked, as a ModelInfo. */
function checkedModelInfo(
  dir: string,
  labels: unknown,
  preprocessing: Preprocessing,
  meta: InfoJson,
  quantization: unknown,
): ModelInfo {
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
    throw new Error(`${path.join(dir, LABELS_JSON)}: expected a JSON array of class names`);
  }
  const problem = preprocessingProblem(preprocessing);
  if (problem) throw new Error(`${path.join(dir, PREPROCESSING_JSON)}: ${problem}`);
  const { precision: _marker, ...rest } = meta;
  if (quantization === undefined) return { ...rest, labels, preprocessing };
  const bad = quantizationProblem(quantization);
  if (bad) throw new Error(`${path.join(dir, QUANTIZATION_JSON)}: ${bad}`);
  return { ...rest, labels, preprocessing, quantization: quantization as ModelQuantization };
}

/**
 * Whether model-info.json declares a quantized folder (whose quantization.json must then be read); throws on
 * a precision that is neither int8 nor fp32.
 */
function declaresQuantized(dir: string, meta: InfoJson): boolean {
  if (meta.precision === undefined || meta.precision === 'fp32') return false;
  if (meta.precision === QUANTIZED_PRECISION) return true;
  throw new Error(
    `${path.join(dir, INFO_JSON)}: precision must be "${QUANTIZED_PRECISION}" or "fp32", got ${JSON.stringify(meta.precision)}`,
  );
}

/**
 * What a model folder (one generation, or a plain folder) says about its network: labels.json and
 * preprocessing.json checked (preprocessingProblem), model-info.json when present. Synchronous, so that
 * weightsMeta can describe a folder without loading it.
 */
export function readModelInfo(dir: string): ModelInfo {
  const read = <T>(name: string): T =>
    parseJson<T>(path.join(dir, name), readSyncOrExplain(path.join(dir, name)));
  let meta = UNKNOWN_INFO;
  try {
    meta = read(INFO_JSON);
  } catch {
    // absent or unreadable: as loadModelFolder treats it
  }
  const quantization = declaresQuantized(dir, meta) ? read(QUANTIZATION_JSON) : undefined;
  return checkedModelInfo(dir, read(LABELS_JSON), read(PREPROCESSING_JSON), meta, quantization);
}

/** loadModelFolder on one generation (or plain folder) `dir`. */
async function loadResolvedFolder(dir: string): Promise<{ model: tf.LayersModel; info: ModelInfo }> {
  // The description first: a bad preprocessing.json is refused before the weights are read.
  const labels = await readJson<string[]>(path.join(dir, LABELS_JSON));
  const preprocessing = await readJson<Preprocessing>(path.join(dir, PREPROCESSING_JSON));
  const meta = await readJson<InfoJson>(path.join(dir, INFO_JSON)).catch(() => UNKNOWN_INFO);
  const quantization = declaresQuantized(dir, meta)
    ? await readJson<unknown>(path.join(dir, QUANTIZATION_JSON))
    : undefined;
  const info = checkedModelInfo(dir, labels, preprocessing, meta, quantization);
  const prepFile = path.join(dir, PREPROCESSING_JSON);
  let weightData: ArrayBuffer | undefined;
  const model = await tf.loadLayersModel({
    load: async () => {
      const artifacts = readModelArtifacts(dir);
      weightData = artifacts.weightData as ArrayBuffer;
      return artifacts;
    },
  });
  try {
    checkModelMatchesInfo(model, info, { preprocessing: prepFile, labels: path.join(dir, LABELS_JSON) });
    if (info.quantization) checkQuantizationMatches(dir, model, info.quantization, weightData!);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, info };
}

/**
 * Throws unless `quantization` was calibrated for exactly this network: its weights (SHA-256) and its layer
 * names. Ranges of other weights would give int8 results that look plausible and are wrong.
 */
function checkQuantizationMatches(
  dir: string,
  model: tf.LayersModel,
  quantization: ModelQuantization,
  weightData: ArrayBuffer,
): void {
  const file = path.join(dir, QUANTIZATION_JSON);
  if (weightsSha256(weightData) !== quantization.weightsSha256) {
    throw new Error(
      `${file}: calibrated for other weights (weightsSha256 differs from the folder's weights); quantize the folder again`,
    );
  }
  const names = new Set(model.layers.map((l) => l.name));
  const unknown = Object.keys(quantization.activations).find((n) => n !== 'input' && !names.has(n));
  if (unknown)
    throw new Error(`${file}: activations name layer ${JSON.stringify(unknown)}, which the model lacks`);
}
