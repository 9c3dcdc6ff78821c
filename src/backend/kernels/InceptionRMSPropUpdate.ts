import { RMSPROP_UPDATE, type RMSPropUpdateAttrs } from '../../ops/optimizer_updates';
import { updatedTensor, updateTarget } from '../in_place';
import { nativeKernel } from '../native_kernel';

/** tfjs RMSPropOptimizer's update (plain, or centered when `meanGrad` is given) in one native pass. */
export const inceptionRMSPropUpdateConfig = nativeKernel(RMSPROP_UPDATE, ({ inputs, backend, attrs }) => {
  const { x, gradient, meanSquare, moment, meanGrad } = inputs;
  const { learningRate, decay, momentum, epsilon } = attrs as unknown as RMSPropUpdateAttrs;
  const state = meanGrad ? [x, meanSquare, moment, meanGrad] : [x, meanSquare, moment];
  const out = state.map((t) => updateTarget(backend, t));
  backend.native.rmsPropUpdate(
    backend.float32(x)!,
    backend.float32(gradient)!,
    backend.float32(meanSquare)!,
    backend.float32(moment)!,
    meanGrad ? backend.float32(meanGrad)! : null,
    out[0],
    out[1],
    out[2],
    out[3] ?? null,
    Float32Array.of(decay, 1 - decay, momentum, epsilon, learningRate),
  );
  return state.map((t, i) => updatedTensor(backend, t, out[i]));
});
