import { MaxPool, type MaxPoolAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { poolWindow } from '../window';

export const maxPoolConfig = nativeKernel(MaxPool, ({ inputs: { x }, backend, attrs }) => {
  const { info, window } = poolWindow(x.shape, attrs as unknown as MaxPoolAttrs);
  const xs = backend.float32(x);
  if (!window || !xs) return null;
  const out = backend.allocate(info.outShape);
  backend.native.maxPool(xs, out, window);
  return backend.output(info.outShape, out);
});
