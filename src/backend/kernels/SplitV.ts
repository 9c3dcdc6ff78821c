import { backend_util, SplitV, type SplitVAttrs, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { rowsAndWidth } from './Concat';

/** The inverse of Concat (and its gradient): one native pass over the rows for all outputs. */
export const splitVConfig = nativeKernel(SplitV, ({ inputs: { x }, backend, attrs }) => {
  const { numOrSizeSplits, axis } = attrs as unknown as SplitVAttrs;
  const xs = backend.float32(x);
  if (!xs) return null;
  const $axis = util.parseAxisParam(axis, x.shape)[0];
  const shapes = backend_util.prepareSplitSize(x, numOrSizeSplits, $axis).map((size) => {
    const shape = x.shape.slice();
    shape[$axis] = size;
    return shape;
  });
  const outputs = shapes.map((shape) => backend.allocate(shape));
  const [rows] = rowsAndWidth(x.shape, $axis);
  backend.native.split(
    xs,
    outputs,
    rows,
    shapes.map((shape) => rowsAndWidth(shape, $axis)[1]),
  );
  return shapes.map((shape, i) => backend.output(shape, outputs[i]));
});
