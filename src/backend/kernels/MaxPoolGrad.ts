import { MaxPoolGrad, type MaxPoolGradAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { poolWindow } from '../window';

/** Natively, from the input and the forward's output (tfjs keeps no argmax workspace). */
export const maxPoolGradConfig = nativeKernel(
  MaxPoolGrad,
  ({ inputs: { dy, input, output }, backend, attrs }) => {
    const { info, window } = poolWindow(input.shape, attrs as unknown as MaxPoolGradAttrs);
    const dys = backend.float32(dy);
    const xs = backend.float32(input);
    const ys = backend.float32(output);
    if (!window || !dys || !xs || !ys) return null;
    const dx = backend.allocate(info.inShape);
    backend.native.maxPoolGrad(dys, xs, ys, dx, window);
    return backend.output(info.inShape, dx);
  },
);
