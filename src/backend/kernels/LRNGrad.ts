import { LRNGrad, type LRNGradAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { lrnGeometry } from './LRN';

/** The gradient of LRN w.r.t. its input, from x, the forward output y and dy. */
export const lrnGradConfig = nativeKernel(LRNGrad, ({ inputs: { x, y, dy }, backend, attrs }) => {
  const { depthRadius, bias, alpha, beta } = attrs as unknown as LRNGradAttrs;
  const [xs, ys, dys] = [x, y, dy].map((t) => backend.float32(t));
  if (!xs || !ys || !dys || x.shape.length !== 4) return null;
  const dx = backend.allocate(x.shape);
  backend.native.lrnGrad(xs, ys, dys, dx, lrnGeometry(x.shape, depthRadius), bias, alpha, beta);
  return backend.output(x.shape, dx);
});
