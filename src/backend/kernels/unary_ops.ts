import type { TensorInfo } from '@tensorflow/tfjs';
import { Relu, Step, type StepAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import type { OneDnnBackend } from '../onednn_backend';

/** The op codes of native/eltwise.cc's `unary`. */
const RELU = 0;
const STEP = 1;

function unary(backend: OneDnnBackend, x: TensorInfo, op: number, alpha = 0): TensorInfo | null {
  const xs = backend.float32(x);
  if (!xs) return null;
  const out = backend.allocate(x.shape);
  backend.native.unary(op, xs, out, alpha);
  return backend.output(x.shape, out);
}

export const reluConfig = nativeKernel(Relu, ({ inputs: { x }, backend }) => unary(backend, x, RELU));

/** Step is what tfjs's ReLU gradient multiplies dy by: 1 where x > 0, else alpha (NaN stays NaN). */
export const stepConfig = nativeKernel(Step, ({ inputs: { x }, backend, attrs }) =>
  unary(backend, x, STEP, (attrs as unknown as StepAttrs).alpha),
);
