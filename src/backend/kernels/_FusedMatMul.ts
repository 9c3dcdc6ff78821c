import { _FusedMatMul, type _FusedMatMulAttrs } from '@tensorflow/tfjs';
import { nativeKernel } from '../native_kernel';
import { nativeMatMul } from './BatchMatMul';

/** MatMul + bias + ReLU in one oneDNN primitive; other activations fall back. */
export const fusedMatMulConfig = nativeKernel(_FusedMatMul, ({ inputs: { a, b, bias }, backend, attrs }) => {
  const { transposeA, transposeB, activation } = attrs as unknown as _FusedMatMulAttrs;
  if (activation !== 'linear' && activation !== 'relu') return null;
  return nativeMatMul(backend, a, b, bias, transposeA, transposeB, activation === 'relu');
});
