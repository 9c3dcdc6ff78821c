import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import type { OneDnnBackend } from './onednn_backend';

export interface NativeKernelArgs {
  /** The kernel's named inputs; optional ones (e.g. FusedConv2D's bias) may still be undefined. */
  inputs: Record<string, TensorInfo>;
  backend: OneDnnBackend;
  attrs: NamedAttrMap;
}

/** A native implementation; null means "not covered here", and the CPU kernel runs instead. */
export type NativeKernelFunc = (args: NativeKernelArgs) => TensorInfo | TensorInfo[] | null;

/** The KernelConfig for an `onednn` kernel that falls back to the CPU kernel of the same name. */
export function nativeKernel(kernelName: string, implementation: NativeKernelFunc): tf.KernelConfig {
  let cpu: tf.KernelFunc | undefined;
  return {
    kernelName,
    backendName: 'onednn',
    kernelFunc: (args) => {
      const result = implementation(args as unknown as NativeKernelArgs);
      if (result !== null) return result;
      cpu ??= tf.getKernel(kernelName, 'cpu')?.kernelFunc;
      if (!cpu) throw new Error(`onednn: no cpu fallback registered for ${kernelName}`);
      return cpu(args);
    },
  };
}
