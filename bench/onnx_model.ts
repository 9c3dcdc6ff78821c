import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildBenchModel, type ModelSpec, specKey } from './bench_model';
import { CALIBRATION, randomNormalRanges } from './calibration';
import { probeTorch, runTorchScript } from './engines/pytorch';
import type { BenchContext } from './types';

export type OnnxModel =
  | { ok: true; path: string; source: string }
  | { ok: false; reason: string; missing?: boolean };

/** The project's own exporter (src/export/onnx.ts), once it is part of the build. */
const PROJECT_EXPORTER = join(__dirname, '..', 'src', 'export', 'onnx.js');

/** Exports the benchmarked tfjs model itself with the project's exporter (NHWC input, random weights). */
async function projectExport(spec: ModelSpec, path: string): Promise<void> {
  const { exportOnnx } = require(PROJECT_EXPORTER);
  const model = await buildBenchModel(spec);
  try {
    const labels = Array.from({ length: spec.classes }, (_, i) => `class_${i}`);
    const inputShape = [spec.size, spec.size, 3];
    const preprocessing = { inputShape, mean: [0, 0, 0], std: [1, 1, 1], resize: 'fill' };
    await exportOnnx(model, { model: spec.model, widthMultiplier: spec.width, labels, preprocessing }, path);
  } finally {
    model.dispose();
  }
}

/** `torch.onnx.export` of the PyTorch twin in bench/torch_googlenet.py: same layers and FLOPs, NCHW input. */
async function torchExport(spec: ModelSpec, path: string, ctx: BenchContext): Promise<OnnxModel> {
  const torch = await probeTorch(ctx);
  if (!torch.ok) return { ok: false, missing: true, reason: `no ONNX model to run (${torch.reason})` };
  const args = ['--export-onnx', path, '--size', String(spec.size), '--classes', String(spec.classes)];
  args.push('--width', String(spec.width));
  const answer = await runTorchScript(args, ctx);
  if (!answer.ok) return { ok: false, reason: `ONNX export failed: ${answer.reason}` };
  return {
    ok: true,
    path,
    source: 'torch.onnx.export of the PyTorch twin bench/torch_googlenet.py (opset 13)',
  };
}

/**
 * An ONNX file of the benchmarked network at `size`x`size`, made once per run in the scratch folder: the
 * project's own export of the tfjs model when the build has one, else the PyTorch twin's export.
 */
export function onnxModel(spec: ModelSpec, ctx: BenchContext): Promise<OnnxModel> {
  return ctx.once(`onnx:${specKey(spec)}`, async () => {
    const path = join(ctx.tmpDir, `${specKey(spec)}.onnx`);
    const what = `${spec.model} at ${spec.size}x${spec.size}, width ${spec.width}`;
    let fallback = '';
    if (existsSync(PROJECT_EXPORTER)) {
      ctx.log(`exporting ${what} to ONNX (src/export/onnx.ts)`);
      try {
        await projectExport(spec, path);
        return { ok: true, path, source: 'the project exporter src/export/onnx.ts (opset 13)' };
      } catch (e) {
        fallback = ` (src/export/onnx.ts failed: ${(e as Error).message.split('\n')[0]})`;
      }
    }
    ctx.log(`exporting the PyTorch twin of ${what} to ONNX`);
    const model = await torchExport(spec, path, ctx);
    return model.ok ? { ...model, source: model.source + fallback } : model;
  });
}

/** The project's int8 QDQ export of the tfjs model, its ranges calibrated by tfjs on random-normal images. */
async function projectQdqExport(spec: ModelSpec, path: string): Promise<void> {
  const { tf } = await import('../src/index');
  const model = await buildBenchModel(spec);
  try {
    const int8Ranges = randomNormalRanges(tf, model);
    await require(PROJECT_EXPORTER).exportOnnx(model, undefined, path, { int8Ranges });
  } finally {
    model.dispose();
  }
}

/**
 * onnxruntime's int8 model of the network in QDQ form (the project's exporter, src/export/onnx_qdq.ts:
 * the scheme the native int8 plan runs), calibrated on random-normal images, once per run.
 */
export function qdqModel(spec: ModelSpec, ctx: BenchContext): Promise<OnnxModel> {
  return ctx.once(`qdq:${specKey(spec)}`, async () => {
    const outPath = join(ctx.tmpDir, `${specKey(spec)}-qdq.onnx`);
    const images = CALIBRATION.batches * CALIBRATION.batch;
    ctx.log(`exporting ${specKey(spec)} to QDQ int8 ONNX (src/export/onnx_qdq.ts)`);
    try {
      await projectQdqExport(spec, outPath);
    } catch (e) {
      return { ok: false, reason: `QDQ export failed: ${(e as Error).message.split('\n')[0]}` };
    }
    return {
      ok: true,
      path: outPath,
      source: `the project's QDQ exporter src/export/onnx_qdq.ts, ranges from ${images} random-normal images`,
    };
  });
}
