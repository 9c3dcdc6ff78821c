import { join } from 'node:path';
import { probeTorch, runTorchScript } from './engines/pytorch';
import type { BenchContext } from './types';

export type OnnxModel = { ok: true; path: string; source: string } | { ok: false; reason: string };

/**
 * An ONNX file of the benchmarked network at `size`x`size`, made once per run in the scratch folder.
 * Until the project exports ONNX itself (src/export/onnx.ts), it is `torch.onnx.export` of the PyTorch twin
 * in bench/torch_googlenet.py: the same layers and FLOPs (opset 13, NCHW input, dynamic batch), random weights.
 */
export function onnxModel(size: number, classes: number, ctx: BenchContext): Promise<OnnxModel> {
  return ctx.once(`onnx:${size}:${classes}`, async () => {
    const torch = await probeTorch(ctx);
    if (!torch.ok) return { ok: false, reason: `no ONNX model to run (${torch.reason})` };
    const path = join(ctx.tmpDir, `googlenet-${size}-${classes}.onnx`);
    ctx.log(`exporting the PyTorch twin to ONNX at ${size}x${size}`);
    const args = ['--export-onnx', path, '--size', String(size), '--classes', String(classes)];
    const answer = await runTorchScript(args, ctx);
    if (!answer.ok) return { ok: false, reason: `ONNX export failed: ${answer.reason}` };
    return { ok: true, path, source: 'torch.onnx.export of bench/torch_googlenet.py (opset 13)' };
  });
}
