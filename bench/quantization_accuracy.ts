// Developer tool: top-1 of a quantized model folder's float network (tfjs on the selected engine, and its
// float ONNX export on onnxruntime) against its int8 QDQ export on onnxruntime, on the held-out images of a
// --val-split, as docs/quantization.md reports them.
// `node dist/bench/quantization_accuracy.js --model-dir QDIR --data DIR [--val-split 0.1] [--seed 0] [--json]`
// Without --val-split every image of DIR is evaluated.
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { Precision } from '../src/backend/plan_spec';
import { decodeImage } from '../src/data/decode';
import { ImageFolderDataset } from '../src/data/image_folder';
import { exportOnnxBytes } from '../src/export/onnx';
import { backendReady, loadModelFolder, tf } from '../src/index';
import { type ActivationRanges, compilePlan, PlanUnsupportedError } from '../src/inference/plan';

const BATCH = 100;

function top1(probs: Float32Array, classes: number): Int32Array {
  const out = new Int32Array(probs.length / classes);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probs[i * classes + k] > probs[i * classes + best]) best = k;
    out[i] = best;
  }
  return out;
}

function concatenate(parts: Float32Array[]): Float32Array {
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return all;
}

async function onnxProbabilities(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  try {
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    const parts: Float32Array[] = [];
    for (let start = 0; start < shape[0]; start += BATCH) {
      const n = Math.min(BATCH, shape[0] - start);
      const input = new ort.Tensor('float32', x.subarray(start * per, (start + n) * per), [
        n,
        ...shape.slice(1),
      ]);
      const out = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]];
      parts.push(Float32Array.from(out.data as Float32Array));
    }
    return concatenate(parts);
  } finally {
    await session.release();
  }
}

/** The model's outputs through the native planned path, or why it cannot run here. */
function planOutputs(
  model: tf.LayersModel,
  x: Float32Array,
  shape: number[],
  precision: Precision,
  ranges?: ActivationRanges,
): Float32Array | string {
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  try {
    for (let start = 0; start < shape[0]; start += BATCH) {
      const n = Math.min(BATCH, shape[0] - start);
      const plan = compilePlan(model, { batch: n, precision, ranges });
      parts.push(plan.run(x.subarray(start * per, (start + n) * per)).slice());
      plan.dispose();
    }
  } catch (e) {
    if (e instanceof PlanUnsupportedError) return e.message;
    throw e;
  }
  return concatenate(parts);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'model-dir': { type: 'string' },
      data: { type: 'string' },
      'val-split': { type: 'string' },
      seed: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values['model-dir'] || !values.data) throw new Error('give --model-dir QDIR --data DIR');
  const backend = await backendReady;
  const { model, info } = await loadModelFolder(values['model-dir']);
  if (!info.quantization) throw new Error(`${values['model-dir']}: not a quantized model folder`);
  let dataset = await ImageFolderDataset.open(values.data, { classNames: info.labels });
  if (values['val-split']) [, dataset] = dataset.split(Number(values['val-split']), Number(values.seed));
  const [h, w, c] = info.preprocessing.inputShape;
  const per = h * w * c;
  const x = new Float32Array(dataset.size * per);
  for (const [i, f] of dataset.files.entries()) x.set(await decodeImage(f.path, info.preprocessing), i * per);
  const labels = dataset.files.map((f) => f.label);
  const classes = info.labels.length;

  // model.predict, not classProbabilities: that one may take the planned path, which has its own rows.
  const tfjsProbs = new Float32Array(dataset.size * classes);
  for (let start = 0; start < dataset.size; start += BATCH) {
    const n = Math.min(BATCH, dataset.size - start);
    const out = tf.tidy(() => {
      const batch = tf.tensor4d(x.subarray(start * per, (start + n) * per), [n, h, w, c]);
      return model.predict(batch) as tf.Tensor;
    });
    tfjsProbs.set(await out.data(), start * classes);
    out.dispose();
  }
  const shape = [dataset.size, h, w, c];
  const rows: Record<string, Int32Array> = {
    [`fp32, tfjs (${backend})`]: top1(tfjsProbs, classes),
    'fp32, onnxruntime': top1(await onnxProbabilities(exportOnnxBytes(model, info), x, shape), classes),
    'int8 QDQ, onnxruntime': top1(
      await onnxProbabilities(
        exportOnnxBytes(model, info, { int8Ranges: info.quantization.activations }),
        x,
        shape,
      ),
      classes,
    ),
  };
  const skipped: string[] = [];
  for (const precision of ['fp32', 'int8'] as const) {
    const out = planOutputs(
      model,
      x,
      shape,
      precision,
      precision === 'int8' ? info.quantization.activations : undefined,
    );
    if (typeof out === 'string') skipped.push(`${precision}, native plan: ${out}`);
    else rows[`${precision}, native plan (${backend})`] = top1(out, classes);
  }
  model.dispose();
  const reference = rows[Object.keys(rows)[0]];
  const result = Object.entries(rows).map(([engine, predicted]) => {
    let correct = 0;
    let agree = 0;
    let gained = 0;
    let lost = 0;
    predicted.forEach((p, i) => {
      if (p === labels[i]) correct++;
      if (p === reference[i]) agree++;
      else if (p === labels[i]) gained++;
      else if (reference[i] === labels[i]) lost++;
    });
    return {
      engine,
      correct,
      accuracy: correct / labels.length,
      agreesWithFp32: agree / labels.length,
      gained,
      lost,
    };
  });
  if (values.json) {
    console.log(
      JSON.stringify({ images: labels.length, calibration: info.quantization.calibration, result }),
    );
    return;
  }
  console.log(
    `${labels.length} images; calibrated on ${info.quantization.calibration.count} images of ${info.quantization.calibration.images}`,
  );
  console.log('| engine | correct | top-1 | same top-1 as fp32 tfjs | right only here | wrong only here |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of result) {
    console.log(
      `| ${r.engine} | ${r.correct} | ${r.accuracy.toFixed(4)} | ${(100 * r.agreesWithFp32).toFixed(2)}% | ${r.gained} | ${r.lost} |`,
    );
  }
  for (const line of skipped) console.log(`not run: ${line}`);
}

main().catch((e) => {
  console.error(`quantization_accuracy: ${(e as Error).message}`);
  process.exit(1);
});
