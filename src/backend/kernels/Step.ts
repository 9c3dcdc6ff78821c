import { Step, type StepAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';

/** ReLU's gradient is dy * step(x): this is the mask half of it. */
export const stepConfig = nativeKernel(Step, ({ inputs: { x }, backend, attrs }) => {
  const xs = backend.float32(x);
  if (!xs) return null;
  const out = backend.allocate(x.shape);
  backend.native.step(xs, out, (attrs as unknown as StepAttrs).alpha ?? 0);
  return backend.output(x.shape, out);
});
