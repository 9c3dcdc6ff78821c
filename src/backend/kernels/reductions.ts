import {
  backend_util,
  Mean,
  type MeanAttrs,
  Sum,
  type SumAttrs,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import type { OneDnnBackend } from '../onednn_backend';

/**
 * x viewed as [outer, size, inner] when the reduced axes are one contiguous block (a bias gradient reduces
 * N,H,W of NHWC; global average pooling H,W), else null (the cpu kernel transposes first).
 */
function reductionGeometry(shape: number[], axes: number[]): [number, number, number] | null {
  const sorted = [...axes].sort((p, q) => p - q);
  if (sorted.some((axis, i) => i > 0 && axis !== sorted[i - 1] + 1)) return null;
  const first = sorted[0] ?? shape.length;
  const end = first + sorted.length;
  return [
    util.sizeFromShape(shape.slice(0, first)),
    util.sizeFromShape(shape.slice(first, end)),
    util.sizeFromShape(shape.slice(end)),
  ];
}

/** Sum (or tfjs's Mean: each element divided by the count, then summed) over `axis`, in one native pass. */
function reduce(
  backend: OneDnnBackend,
  x: TensorInfo,
  attrs: { axis: number | number[]; keepDims: boolean },
  mean: boolean,
): TensorInfo | null {
  const xs = backend.float32(x);
  const axes = util.parseAxisParam(attrs.axis, x.shape);
  const geometry = reductionGeometry(x.shape, axes);
  if (!xs || !geometry) return null;
  const [outer, size, inner] = geometry;
  const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const shape = attrs.keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
  const out = backend.allocate(shape);
  backend.native.reduceSum(xs, out, outer, size, inner, mean ? size : 1);
  return backend.output(shape, out);
}

export const sumConfig = nativeKernel(Sum, ({ inputs: { x }, backend, attrs }) =>
  reduce(backend, x, attrs as unknown as SumAttrs, false),
);

export const meanConfig = nativeKernel(Mean, ({ inputs: { x }, backend, attrs }) =>
  reduce(backend, x, attrs as unknown as MeanAttrs, true),
);
