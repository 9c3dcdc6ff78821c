import { spawnSync } from 'node:child_process';
import type * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';

/** Runs ONNX bytes on onnxruntime for one NHWC input and returns the first output. */
export async function runOnnx(
  bytes: Uint8Array,
  input: tf.Tensor,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = {
      [session.inputNames[0]]: new ort.Tensor('float32', input.dataSync() as Float32Array, input.shape),
    };
    const out = (await session.run(feeds))[session.outputNames[0]];
    return { data: out.data as Float32Array, dims: out.dims };
  } finally {
    await session.release();
  }
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const PYTHON = '/usr/bin/python3';

/** Why onnx.checker cannot run here, or null when `/usr/bin/python3 -c "import onnx"` works. */
export function onnxCheckerUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not runnable (${r.error.message})`;
  return r.status === 0 ? null : `${PYTHON} has no onnx module (apt install python3-onnx)`;
}

/** Runs onnx.checker.check_model(full_check=True) on a file; returns its stderr on failure, '' on success. */
export function onnxCheck(file: string): string {
  const r = spawnSync(
    PYTHON,
    ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', file],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? '' : `${r.stderr}${r.stdout}`.trim() || `exit ${r.status}`;
}
