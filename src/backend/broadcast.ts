import { backend_util } from '@tensorflow/tfjs';

/** How the addon's `binary` walks two broadcast operands: see native/eltwise.cc. */
export interface BroadcastGeometry {
  /** The result's shape (numpy broadcasting, as tfjs's). */
  outShape: number[];
  /** The iteration shape: outShape with adjacent dims merged where both operands allow it. */
  shape: Int32Array;
  /** Element strides of a and b along each iteration dim; 0 where that operand is broadcast. */
  aStrides: Int32Array;
  bStrides: Int32Array;
}

/** Strides of `shape` right-aligned to `rank` dims of `outShape`, 0 along broadcast dims. */
function stridesIn(shape: number[], outShape: number[]): number[] {
  const padded = [...new Array(outShape.length - shape.length).fill(1), ...shape];
  const strides = new Array<number>(outShape.length);
  let stride = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 && outShape[d] !== 1 ? 0 : stride;
    stride *= padded[d];
  }
  return strides;
}

/**
 * The geometry of `a op b`. Dims are merged where both operands are contiguous across them or both are
 * broadcast along them, so same-shape operands become one flat run and a bias add becomes [N*H*W, C].
 */
export function broadcastGeometry(aShape: number[], bShape: number[]): BroadcastGeometry {
  const outShape = backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const full = outShape.length === 0 ? [1] : outShape;
  const a = stridesIn(aShape, full);
  const b = stridesIn(bShape, full);
  // Dims of size 1 change nothing; the rest are merged from the innermost outwards.
  const dims = full.map((_, d) => d).filter((d) => full[d] !== 1);
  const last = dims.pop();
  const shape = [last === undefined ? 1 : full[last]];
  const aStrides = [last === undefined ? 0 : a[last]];
  const bStrides = [last === undefined ? 0 : b[last]];
  for (const d of dims.reverse()) {
    const merges = (s: number[], inner: number) =>
      (s[d] === 0 && inner === 0) || (s[d] !== 0 && inner !== 0 && s[d] === inner * shape[0]);
    if (merges(a, aStrides[0]) && merges(b, bStrides[0])) {
      shape[0] *= full[d];
    } else {
      shape.unshift(full[d]);
      aStrides.unshift(a[d]);
      bStrides.unshift(b[d]);
    }
  }
  return {
    outShape,
    shape: Int32Array.from(shape),
    aStrides: Int32Array.from(aStrides),
    bStrides: Int32Array.from(bStrides),
  };
}
