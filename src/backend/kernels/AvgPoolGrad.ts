import { AvgPoolGrad, type AvgPoolGradAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { poolWindow } from '../window';

/**
 * The true gradient of AvgPool: each output's gradient is shared among its window's in-bounds elements.
 * (tfjs's cpu kernel divides by the full window size even where `same` padding cut the window short, which
 * disagrees with its own forward pass; for `valid` pooling the two agree.)
 */
export const avgPoolGradConfig = nativeKernel(AvgPoolGrad, ({ inputs: { dy, input }, backend, attrs }) => {
  const { info, window } = poolWindow(input.shape, attrs as unknown as AvgPoolGradAttrs);
  const dys = backend.float32(dy);
  if (!window || !dys) return null;
  const dx = backend.allocate(info.inShape);
  backend.native.avgPoolGrad(dys, dx, window);
  return backend.output(info.inShape, dx);
});
