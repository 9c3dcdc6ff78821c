import { ADAM_UPDATE, type AdamUpdateAttrs } from '../../ops/optimizer_updates';
import { updatedTensor, updateTarget } from '../in_place';
import { nativeKernel } from '../native_kernel';

/** tfjs AdamOptimizer's update in one native pass; coefficients rounded to float32 as tfjs's scalars are. */
export const inceptionAdamUpdateConfig = nativeKernel(ADAM_UPDATE, ({ inputs, backend, attrs }) => {
  const { x, gradient, m, v, oneMinusAccBeta1, oneMinusAccBeta2 } = inputs;
  const { learningRate, beta1, beta2, epsilon } = attrs as unknown as AdamUpdateAttrs;
  const scalar = (t: typeof x) => backend.float32(t)![0];
  const [xOut, mOut, vOut] = [x, m, v].map((t) => updateTarget(backend, t));
  backend.native.adamUpdate(
    backend.float32(x)!,
    backend.float32(gradient)!,
    backend.float32(m)!,
    backend.float32(v)!,
    xOut,
    mOut,
    vOut,
    Float32Array.of(
      beta1,
      1 - beta1,
      beta2,
      1 - beta2,
      scalar(oneMinusAccBeta1),
      scalar(oneMinusAccBeta2),
      epsilon,
      -learningRate,
    ),
  );
  return [updatedTensor(backend, x, xOut), updatedTensor(backend, m, mOut), updatedTensor(backend, v, vOut)];
});
