import { LRN, type LRNAttrs, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';

/** [pixels, channels, depthRadius]: the geometry native/lrn.cc reads, for an NHWC tensor. */
export function lrnGeometry(shape: number[], depthRadius: number): Int32Array {
  const channels = shape[shape.length - 1];
  return Int32Array.of(util.sizeFromShape(shape) / channels, channels, depthRadius);
}

/** tf.localResponseNormalization across channels, tfjs's semantics (alpha per element). */
export const lrnConfig = nativeKernel(LRN, ({ inputs: { x }, backend, attrs }) => {
  const { depthRadius, bias, alpha, beta } = attrs as unknown as LRNAttrs;
  const xs = backend.float32(x);
  if (!xs || x.shape.length !== 4) return null;
  const out = backend.allocate(x.shape);
  backend.native.lrn(xs, out, lrnGeometry(x.shape, depthRadius), bias, alpha, beta);
  return backend.output(x.shape, out);
});
