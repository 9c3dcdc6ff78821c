import { backend_util, Concat, type ConcatAttrs, type TensorInfo, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';

/** A shape seen as rows of the given axis onward: [rows before `axis`, floats per row]. */
export function rowsAndWidth(shape: number[], axis: number): [number, number] {
  return [util.sizeFromShape(shape.slice(0, axis)), util.sizeFromShape(shape.slice(axis))];
}

export const concatConfig = nativeKernel(Concat, ({ inputs, backend, attrs }) => {
  const tensors = Object.values(inputs) as TensorInfo[];
  const axis = util.parseAxisParam((attrs as unknown as ConcatAttrs).axis, tensors[0].shape)[0];
  const arrays = tensors.map((t) => backend.float32(t));
  if (arrays.some((a) => a === null)) return null;
  const outShape = backend_util.computeOutShape(
    tensors.map((t) => t.shape),
    axis,
  );
  const out = backend.allocate(outShape);
  const [rows] = rowsAndWidth(outShape, axis);
  const widths = tensors.map((t) => rowsAndWidth(t.shape, axis)[1]);
  backend.native.concat(arrays as Float32Array[], out, rows, widths);
  return backend.output(outShape, out);
});
