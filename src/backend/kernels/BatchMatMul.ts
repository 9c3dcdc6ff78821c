import { BatchMatMul, type BatchMatMulAttrs, broadcast_util, type TensorInfo, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import type { OneDnnBackend } from '../onednn_backend';

/**
 * a·b over the leading batch dimensions (shared by _FusedMatMul): native when both batches agree or one is
 * a single matrix; other broadcasts, and bias shapes other than one value per column, return null.
 */
export function nativeMatMul(
  backend: OneDnnBackend,
  a: TensorInfo,
  b: TensorInfo,
  bias: TensorInfo | undefined,
  transposeA: boolean,
  transposeB: boolean,
  relu: boolean,
): TensorInfo | null {
  const as = backend.float32(a);
  const bs = backend.float32(b);
  const biases = bias ? backend.float32(bias) : null;
  if (!as || !bs || (bias && !biases)) return null;
  const [m, k] = transposeA ? a.shape.slice(-2).reverse() : a.shape.slice(-2);
  const [kb, n] = transposeB ? b.shape.slice(-2).reverse() : b.shape.slice(-2);
  if (
    k !== kb ||
    (bias && (util.sizeFromShape(bias.shape) !== n || bias.shape[bias.shape.length - 1] !== n))
  ) {
    return null;
  }
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(batchShapeA);
  const batchB = util.sizeFromShape(batchShapeB);
  if (batchA !== 1 && batchB !== 1 && !util.arraysEqual(batchShapeA, batchShapeB)) return null;
  const outShape = [...broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB), m, n];
  const out = backend.allocate(outShape);
  backend.native.matmul(as, bs, biases, out, [batchA, batchB, m, k, n], transposeA, transposeB, relu);
  return backend.output(outShape, out);
}

export const batchMatMulConfig = nativeKernel(BatchMatMul, ({ inputs: { a, b }, backend, attrs }) => {
  const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
  return nativeMatMul(backend, a, b, undefined, transposeA, transposeB, false);
});
