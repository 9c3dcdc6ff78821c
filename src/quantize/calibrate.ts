import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage } from '../data/decode';
import { IMAGE_EXTENSIONS } from '../data/image_folder';
import type { ActivationRanges } from '../inference/plan';
import type { Preprocessing } from '../io/model_folder';
import { seededRandom, shuffleInPlace } from '../random';

/** The range key of the network input, whatever its InputLayer is called. */
export const INPUT_RANGE = 'input';

/** Calibration images used when the caller does not say: enough for stable min/max, seconds at 32x32. */
export const DEFAULT_CALIBRATION_IMAGES = 500;

/** Bytes of layer outputs one calibration batch may hold at once (every layer's output is kept per batch). */
const BATCH_BYTES = 256 * 1024 * 1024;
const MAX_BATCH = 32;

async function imageFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    const stat = await fs.stat(full).catch(() => null);
    if (stat?.isDirectory()) out.push(...(await imageFilesUnder(full)));
    else if (stat?.isFile() && IMAGE_EXTENSIONS.includes(path.extname(entry.name).toLowerCase()))
      out.push(full);
  }
  return out;
}

/**
 * Up to `count` JPEG/PNG files from `dir` (searched recursively: an image folder with class sub-folders or a
 * flat one). With more files than `count`, a seeded random choice (seed 0), so a class-sorted folder still
 * gives every class its share and the same folder always gives the same images; returned in name order.
 */
export async function calibrationImages(dir: string, count: number): Promise<string[]> {
  if (!(Number.isInteger(count) && count >= 1)) {
    throw new Error(`calibration image count must be an integer >= 1, got ${JSON.stringify(count)}`);
  }
  const stat = await fs.stat(dir).catch(() => null);
  if (!stat) throw new Error(`${dir}: no such calibration folder`);
  if (!stat.isDirectory()) throw new Error(`${dir}: not a folder (calibration takes a folder of images)`);
  let files: string[];
  try {
    files = (await imageFilesUnder(dir)).sort();
  } catch (e) {
    throw new Error(`${dir}: cannot read the calibration folder (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (files.length === 0) throw new Error(`${dir}: no JPEG or PNG images to calibrate with`);
  if (files.length <= count) return files;
  return shuffleInPlace(files, seededRandom(0)).slice(0, count).sort();
}

/** The layers whose outputs get a range: every layer with one output from one application. */
function rangedLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter(
    (l) =>
      l.getClassName() !== 'InputLayer' &&
      l.inboundNodes.length === 1 &&
      l.inboundNodes[0].outputTensors.length === 1,
  );
}

export interface CalibrationOptions {
  /** Called after each batch with the images done so far (progress for the CLI). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Records the [min, max] of a model's input and of every layer's output over the batches it observes:
 * calibration from any source of inputs (image files in calibrateRanges, synthetic batches in a benchmark).
 */
export class RangeRecorder {
  /** A model over the same layers (and weights) whose outputs are every layer's output; owns nothing. */
  private readonly probe: tf.LayersModel;
  private readonly names: string[];
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  /** Images per batch that keep every layer's output under BATCH_BYTES. */
  readonly batchSize: number;

  constructor(model: tf.LayersModel) {
    const layers = rangedLayers(model);
    if (layers.some((l) => l.name === INPUT_RANGE)) {
      throw new Error(`layer ${JSON.stringify(INPUT_RANGE)} would shadow the network input's range`);
    }
    this.probe = tf.model({
      inputs: model.inputs,
      outputs: layers.map((l) => l.output as tf.SymbolicTensor),
    });
    const perImage = layers.reduce(
      (n, l) => n + (l.outputShape as number[]).slice(1).reduce((a, b) => a * b, 1),
      0,
    );
    this.batchSize = Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_BYTES / (4 * perImage))));
    this.names = [INPUT_RANGE, ...layers.map((l) => l.name)];
    this.min = new Float64Array(this.names.length).fill(Infinity);
    this.max = new Float64Array(this.names.length).fill(-Infinity);
  }

  /** Runs one NHWC batch (inference mode); `where` names it in the error a NaN or an infinity raises. */
  observe(x: tf.Tensor4D, where: string): void {
    const outs = [x, ...[this.probe.predict(x)].flat()] as tf.Tensor[];
    try {
      // One pass in JS per output (the engine's storage, no copy): cheaper than three reduction kernels.
      for (const [i, t] of outs.entries()) {
        const values = t.dataSync() as Float32Array;
        let lo = this.min[i];
        let hi = this.max[i];
        let sum = 0;
        for (let k = 0; k < values.length; k++) {
          const v = values[k];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
          sum += v;
        }
        // The sum is NaN or infinite when any value is, whatever the comparisons did with it.
        if (!Number.isFinite(sum)) {
          throw new Error(`calibration: ${this.names[i]} holds NaN or Infinity on ${where}`);
        }
        this.min[i] = lo;
        this.max[i] = hi;
      }
    } finally {
      tf.dispose(outs.slice(1));
    }
  }

  /** The ranges so far, by layer name (`input` for the input); throws before any batch was observed. */
  ranges(): ActivationRanges {
    if (!(this.min[0] <= this.max[0])) throw new Error('calibration needs at least one image');
    return Object.fromEntries(this.names.map((n, i) => [n, [this.min[i], this.max[i]]]));
  }
}

/**
 * Runs `files` (decoded and normalised as `preprocessing` says, as predict does) through `model` in inference
 * mode and returns the [min, max] over all images of the input and of every layer's output. A NaN or an
 * infinity in any output is an error naming the layer and the batch's first file.
 */
export async function calibrateRanges(
  model: tf.LayersModel,
  preprocessing: Preprocessing,
  files: string[],
  options: CalibrationOptions = {},
): Promise<ActivationRanges> {
  if (files.length === 0) throw new Error('calibration needs at least one image');
  const recorder = new RangeRecorder(model);
  const [h, w, c] = preprocessing.inputShape;
  for (let start = 0; start < files.length; start += recorder.batchSize) {
    const batchFiles = files.slice(start, start + recorder.batchSize);
    const images = await Promise.all(batchFiles.map((f) => decodeImage(f, preprocessing)));
    const data = new Float32Array(images.length * h * w * c);
    for (const [i, img] of images.entries()) data.set(img, i * h * w * c);
    const x = tf.tensor4d(data, [images.length, h, w, c]);
    try {
      recorder.observe(x, `the batch starting at ${batchFiles[0]}`);
    } finally {
      x.dispose();
    }
    options.onProgress?.(start + batchFiles.length, files.length);
  }
  return recorder.ranges();
}
