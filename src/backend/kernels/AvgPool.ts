import { AvgPool, type AvgPoolAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { poolWindow } from '../window';

/** Averages over each window's in-bounds elements, as the cpu kernel does. */
export const avgPoolConfig = nativeKernel(AvgPool, ({ inputs: { x }, backend, attrs }) => {
  const { info, window } = poolWindow(x.shape, attrs as unknown as AvgPoolAttrs);
  const xs = backend.float32(x);
  if (!window || !xs) return null;
  const out = backend.allocate(info.outShape);
  backend.native.avgPool(xs, out, window);
  return backend.output(info.outShape, out);
});
