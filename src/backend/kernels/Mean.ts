import { Mean, type MeanAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { nativeReduce } from './Sum';

/** Global average pooling is a Mean over H and W. */
export const meanConfig = nativeKernel(Mean, ({ inputs: { x }, backend, attrs }) => {
  const { axis, keepDims } = attrs as unknown as MeanAttrs;
  return nativeReduce(backend, x, axis, keepDims, true);
});
