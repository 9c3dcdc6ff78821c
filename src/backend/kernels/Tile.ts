import { Tile, type TileAttrs } from '@tensorflow/tfjs';
import { broadcastGeometry } from '../broadcast';
import { nativeKernel } from '../native_kernel';
import { FIRST } from './binary_ops';

/**
 * Tile where every repeated dim has size 1 is a broadcast (tfjs's batch-norm gradient tiles a [1, 1, 1, C]
 * vector over N, H, W): one native pass. True repetitions fall back to the cpu kernel.
 */
export const tileConfig = nativeKernel(Tile, ({ inputs: { x }, backend, attrs }) => {
  const { reps } = attrs as unknown as TileAttrs;
  const xs = backend.float32(x);
  if (!xs || reps.length !== x.shape.length || x.shape.some((n, d) => n !== 1 && reps[d] !== 1)) return null;
  const outShape = x.shape.map((n, d) => n * reps[d]);
  const { shape, aStrides } = broadcastGeometry(x.shape, outShape);
  const out = backend.allocate(outShape);
  // `b` is not read by FIRST; x itself with zero strides keeps the addon's bounds check trivially true.
  backend.native.binary(FIRST, xs, xs, out, shape, aStrides, new Int32Array(shape.length));
  return backend.output(outShape, out);
});
