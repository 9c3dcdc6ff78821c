import { backend_util, Sum, type SumAttrs, type TensorInfo, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import type { OneDnnBackend } from '../onednn_backend';

/**
 * Sum (or mean) of a float32 tensor over contiguous axes, natively; non-contiguous axes and other dtypes
 * return null (the cpu kernel runs). Shared with Mean.
 */
export function nativeReduce(
  backend: OneDnnBackend,
  x: TensorInfo,
  axis: number | number[],
  keepDims: boolean,
  mean: boolean,
): TensorInfo | null {
  const xs = backend.float32(x);
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  if (!xs || axes.some((a, i) => i > 0 && a !== axes[i - 1] + 1)) return null;
  const first = axes.length ? axes[0] : x.shape.length;
  const last = axes.length ? axes[axes.length - 1] + 1 : x.shape.length;
  const reduce = util.sizeFromShape(x.shape.slice(first, last));
  if (mean && reduce === 0) return null;
  const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const out = backend.allocate(outShape);
  const outer = util.sizeFromShape(x.shape.slice(0, first));
  backend.native.reduceSum(xs, out, outer, reduce, util.sizeFromShape(x.shape.slice(last)), mean);
  return backend.output(keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape, out);
}

export const sumConfig = nativeKernel(Sum, ({ inputs: { x }, backend, attrs }) => {
  const { axis, keepDims } = attrs as unknown as SumAttrs;
  return nativeReduce(backend, x, axis, keepDims, false);
});
