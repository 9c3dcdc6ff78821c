import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import { NATIVE_KERNELS } from './kernels';
import { OneDnnBackend } from './onednn_backend';

let registered: boolean | undefined;

/**
 * Registers the `onednn` backend once: every CPU kernel under 'onednn' except those with a native version,
 * then the native kernels (so no kernel is registered twice). False when the addon is not built.
 */
export function registerOneDnnBackend(): boolean {
  if (registered !== undefined) return registered;
  const native = loadAddon();
  registered = native !== null;
  if (!native) return false;
  // Priority above cpu's 1: tfjs's default pick, should nothing call setBackend.
  tf.registerBackend('onednn', () => new OneDnnBackend(native), 2);
  const overridden = new Set(NATIVE_KERNELS.map((k) => k.kernelName));
  for (const kernel of tf.getKernelsForBackend('cpu')) {
    if (!overridden.has(kernel.kernelName)) tf.registerKernel({ ...kernel, backendName: 'onednn' });
  }
  for (const kernel of NATIVE_KERNELS) tf.registerKernel(kernel);
  return true;
}
