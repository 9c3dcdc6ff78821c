import { MaxPoolGrad, type MaxPoolGradAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { poolWindow } from '../window';

/** The argmax positions are recomputed from the input natively (tfjs keeps no workspace). */
export const maxPoolGradConfig = nativeKernel(MaxPoolGrad, ({ inputs: { dy, input }, backend, attrs }) => {
  const { info, window } = poolWindow(input.shape, attrs as unknown as MaxPoolGradAttrs);
  const dys = backend.float32(dy);
  const xs = backend.float32(input);
  if (!window || !dys || !xs) return null;
  const dx = backend.allocate(info.inShape);
  backend.native.maxPoolGrad(dys, xs, dx, window);
  return backend.output(info.inShape, dx);
});
