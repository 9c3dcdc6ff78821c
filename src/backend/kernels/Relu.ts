import { Relu } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';

export const reluConfig = nativeKernel(Relu, ({ inputs: { x }, backend }) => {
  const xs = backend.float32(x);
  if (!xs) return null;
  const out = backend.allocate(x.shape);
  backend.native.relu(xs, out);
  return backend.output(x.shape, out);
});
