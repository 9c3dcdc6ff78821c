import { FusedBatchNorm, type FusedBatchNormAttrs, util } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';

/**
 * Batch normalisation with given mean and variance, per channel (the last axis). tfjs's cpu kernel cycles
 * each parameter over the flat tensor; parameters with 1 or `channels` values mean the same per channel,
 * other lengths fall back to it.
 */
export const fusedBatchNormConfig = nativeKernel(FusedBatchNorm, ({ inputs, backend, attrs }) => {
  const { x, mean, variance, offset, scale } = inputs;
  const channels = x.shape[x.shape.length - 1] ?? 1;
  const params = [mean, variance, offset, scale].map((t) => (t ? backend.float32(t) : null));
  const xs = backend.float32(x);
  const fits = (t: (typeof inputs)[string] | undefined, values: Float32Array | null) =>
    !t || (values !== null && [1, channels].includes(util.sizeFromShape(t.shape)));
  if (
    !xs ||
    ![mean, variance, offset, scale].every((t, i) => fits(t, params[i])) ||
    !params[0] ||
    !params[1]
  ) {
    return null;
  }
  const { varianceEpsilon } = attrs as unknown as FusedBatchNormAttrs;
  const out = backend.allocate(x.shape);
  backend.native.batchNorm(
    xs,
    params[0],
    params[1],
    params[2],
    params[3],
    out,
    channels,
    varianceEpsilon ?? 0.001,
  );
  return backend.output(x.shape, out);
});
