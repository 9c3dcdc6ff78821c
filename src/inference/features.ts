/**
 * Feature extraction (Keras `include_top=False, pooling='avg'`): one embedding per image from a network's
 * body, written as CSV or as a NumPy `.npy` array with a sidecar CSV of paths and labels.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage } from '../data/decode';
import { IMAGE_EXTENSIONS, ImageFolderDataset } from '../data/image_folder';
import { writeFileAtomic } from '../io/atomic';
import type { Preprocessing } from '../io/model_folder';
import { encodeNpyFloat32 } from '../io/npy';

/** The images of a folder: a class-folder tree (label: the class folder) or a flat folder (label null). */
export interface ImageList {
  files: string[];
  labels: (string | null)[];
}

/** Lists DIR/<class>/<image> like the training data, or DIR/<image> when DIR has no sub-folders. */
export async function listImages(dir: string): Promise<ImageList> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `${dir}: ${e.code === 'ENOENT' ? 'no such folder' : e.code === 'ENOTDIR' ? 'not a folder' : e.message}`,
    );
  });
  const folders = entries.filter((e) => !e.name.startsWith('.') && e.isDirectory());
  if (folders.length) {
    const data = await ImageFolderDataset.open(dir);
    return { files: data.files.map((f) => f.path), labels: data.files.map((f) => data.classNames[f.label]) };
  }
  const files = entries
    .filter(
      (e) =>
        e.isFile() &&
        !e.name.startsWith('.') &&
        IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()),
    )
    .map((e) => path.join(dir, e.name))
    .sort();
  if (!files.length) throw new Error(`${dir}: no JPEG or PNG images (nor class sub-folders)`);
  return { files, labels: files.map(() => null) };
}

/**
 * The feature extractor inside a trained classifier: the model up to the input of its head (the dense
 * classifier and the dropout before it), so the output is the pooled features the head was trained on.
 */
export function featureModel(model: tf.LayersModel): tf.LayersModel {
  let layer = model.getLayer(model.outputNames[0]);
  const head = ['Dense', 'Dropout', 'Activation', 'Softmax'];
  while (head.includes(layer.getClassName())) {
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    if (inbound.length !== 1) break;
    layer = inbound[0];
  }
  if (layer.getClassName() === 'InputLayer' || layer.name === model.outputNames[0]) {
    throw new Error(`${model.name}: no classifier head to cut off (its output is already ${layer.name})`);
  }
  return tf.model({
    inputs: model.inputs,
    outputs: layer.output as tf.SymbolicTensor,
    name: `${model.name}_features`,
  });
}

/**
 * One feature vector per file: decoded and normalised as `preprocessing` says, in batches. Returns the rows
 * (files.length x dims, row-major). A non-finite feature is an error naming its image.
 */
export async function extractFeatures(
  model: tf.LayersModel,
  preprocessing: Preprocessing,
  files: string[],
  options: { batchSize?: number; onBatch?: (done: number) => void } = {},
): Promise<{ dims: number; data: Float32Array }> {
  const out = model.outputs[0].shape;
  if (out.length !== 2 || typeof out[1] !== 'number') {
    throw new Error(
      `${model.name}: output [${out.slice(1)}] is not one vector per image (build it with pooling)`,
    );
  }
  const dims = out[1];
  const batchSize = options.batchSize ?? 32;
  const data = new Float32Array(files.length * dims);
  const [h, w, c] = preprocessing.inputShape;
  for (let start = 0; start < files.length; start += batchSize) {
    const batch = files.slice(start, start + batchSize);
    const pixels = new Float32Array(batch.length * h * w * c);
    for (const [i, file] of batch.entries())
      pixels.set(await decodeImage(file, preprocessing), i * h * w * c);
    const values = tf.tidy(() => model.predict(tf.tensor4d(pixels, [batch.length, h, w, c])) as tf.Tensor);
    const rows = (await values.data()) as Float32Array;
    values.dispose();
    const bad = rows.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new Error(`${batch[Math.floor(bad / dims)]}: the features are not finite (NaN or Infinity)`);
    data.set(rows, start * dims);
    options.onBatch?.(start + batch.length);
  }
  return { dims, data };
}

/** A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The sidecar of FILE.npy: FILE.index.csv, one `row,path,label` line per row of the array. */
export function npySidecar(file: string): string {
  return `${file.replace(/\.npy$/i, '')}.index.csv`;
}

/**
 * Writes the features to `file`: `.csv` as `path,label,f0..f{D-1}` rows, `.npy` as a float32 [images, dims]
 * array plus the sidecar `npySidecar(file)` (`row,path,label`). Each file is written atomically.
 */
export async function writeFeatures(
  file: string,
  images: ImageList,
  features: { dims: number; data: Float32Array },
): Promise<string[]> {
  const { dims, data } = features;
  const label = (i: number) => csvField(images.labels[i] ?? '');
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') {
    const sidecar = npySidecar(file);
    const lines = ['row,path,label', ...images.files.map((f, i) => `${i},${csvField(f)},${label(i)}`)];
    await writeFileAtomic(file, encodeNpyFloat32(data, [images.files.length, dims]));
    await writeFileAtomic(sidecar, `${lines.join('\n')}\n`);
    return [file, sidecar];
  }
  if (ext !== '.csv') throw new Error(`${file}: the output must end in .csv or .npy`);
  const header = ['path', 'label', ...Array.from({ length: dims }, (_, k) => `f${k}`)].join(',');
  const lines = images.files.map((f, i) => {
    // Nine significant digits read back as the same float32.
    const row = Array.from(data.subarray(i * dims, (i + 1) * dims), (v) => String(Number(v.toPrecision(9))));
    return [csvField(f), label(i), ...row].join(',');
  });
  await writeFileAtomic(file, `${[header, ...lines].join('\n')}\n`);
  return [file];
}
