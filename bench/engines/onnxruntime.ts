import { onnxModel, qdqModel } from '../onnx_model';
import { peakRssBytes, timeSteps } from '../timing';
import type { BenchContext, ChildRequest, EngineResult, Plan, Probe, Workload } from '../types';
import type { Engine } from './engine';
import { runNodeChild } from './node_child';

const probeOnnxruntime = (ctx: BenchContext) =>
  ctx.once('probe:onnxruntime', () =>
    runNodeChild<Probe>({ engine: 'onnxruntime', threads: ctx.threads, probe: true }, ctx),
  );

async function timeModel(
  model: Awaited<ReturnType<typeof onnxModel>>,
  workload: Workload,
  plan: Plan,
  ctx: BenchContext,
): Promise<EngineResult> {
  if (!model.ok) return model;
  const request = {
    engine: 'onnxruntime' as const,
    threads: ctx.threads,
    workload,
    plan,
    onnxPath: model.path,
  };
  const result = await runNodeChild<EngineResult>(request, ctx);
  if (result.ok) result.notes = [...(result.notes ?? []), `model: ${model.source}`];
  return result;
}

/** onnxruntime-node on the CPU execution provider, inference only, on an ONNX file of the same network. */
export const onnxruntimeEngine: Engine = {
  id: 'onnxruntime',
  label: 'onnxruntime-node',
  precision: 'fp32',
  supports: (w) => w.mode === 'inference' && w.model === 'googlenet',
  probe: probeOnnxruntime,
  measure: async (workload, plan, ctx) => timeModel(await onnxModel(workload, ctx), workload, plan, ctx),
};

/** onnxruntime-node running its int8 kernels on the QDQ form of the same ONNX file (src/export/onnx_qdq.ts). */
export const onnxruntimeInt8Engine: Engine = {
  id: 'onnxruntime-int8',
  label: 'onnxruntime-node int8 QDQ',
  precision: 'int8',
  supports: (w) => w.mode === 'inference' && w.model === 'googlenet',
  probe: probeOnnxruntime,
  measure: async (workload, plan, ctx) => timeModel(await qdqModel(workload, ctx), workload, plan, ctx),
};

/** In the child: load onnxruntime-node, then, unless probing, time `session.run` on a random batch. */
export async function measureOnnxruntime(request: ChildRequest): Promise<EngineResult | Probe> {
  let ort: typeof import('onnxruntime-node');
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    return { ok: false, reason: `onnxruntime-node does not load: ${(e as Error).message.split('\n')[0]}` };
  }
  const versions = { 'onnxruntime-node': require('onnxruntime-node/package.json').version as string };
  if (request.probe) return { ok: true, versions, threads: request.threads };
  const w = request.workload!;
  const plan = request.plan ?? { warmup: 1, reps: 3 };
  const session = await ort.InferenceSession.create(request.onnxPath!, {
    intraOpNumThreads: request.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  // The file says its layout: NCHW (PyTorch export) or NHWC (like the tfjs model).
  const meta = session.inputMetadata[0];
  const nhwc = meta.isTensor && meta.shape[3] === 3;
  const dims = nhwc ? [w.batch, w.size, w.size, 3] : [w.batch, 3, w.size, w.size];
  const data = Float32Array.from({ length: w.batch * w.size * w.size * 3 }, () => Math.random() * 2 - 1);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  const { timesMs, warmup } = await timeSteps(() => session.run(feeds), plan);
  await session.release();
  return {
    ok: true,
    timesMs,
    warmup,
    peakRssBytes: peakRssBytes(),
    threads: request.threads,
    versions,
    notes: [`input ${nhwc ? 'NHWC' : 'NCHW'}`],
  };
}
