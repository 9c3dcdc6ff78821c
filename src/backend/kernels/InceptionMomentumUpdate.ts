import { MOMENTUM_UPDATE, type MomentumUpdateAttrs } from '../../ops/optimizer_updates';
import { updatedTensor, updateTarget } from '../in_place';
import { nativeKernel } from '../native_kernel';

/** tfjs MomentumOptimizer's update (plain or Nesterov) in one native pass. */
export const inceptionMomentumUpdateConfig = nativeKernel(MOMENTUM_UPDATE, ({ inputs, backend, attrs }) => {
  const { x, gradient, accumulation } = inputs;
  const { learningRate, momentum, useNesterov } = attrs as unknown as MomentumUpdateAttrs;
  const [xOut, accOut] = [x, accumulation].map((t) => updateTarget(backend, t));
  backend.native.momentumUpdate(
    backend.float32(x)!,
    backend.float32(gradient)!,
    backend.float32(accumulation)!,
    xOut,
    accOut,
    Float32Array.of(momentum, -learningRate),
    useNesterov,
  );
  return [updatedTensor(backend, x, xOut), updatedTensor(backend, accumulation, accOut)];
});
