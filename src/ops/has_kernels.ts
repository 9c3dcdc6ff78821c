import * as tf from '@tensorflow/tfjs';

/** Whether the active backend registers every one of these kernels (the custom ops' layers check this). */
export function activeBackendHasKernels(...kernelNames: string[]): boolean {
  const backend = tf.getBackend();
  return kernelNames.every((name) => tf.getKernel(name, backend) !== undefined);
}
