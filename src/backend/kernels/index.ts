import type { KernelConfig } from '@tensorflow/tfjs';
import { conv2DConfig } from './Conv2D';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput';
import { fusedConv2DConfig } from './FusedConv2D';
import { inceptionAdamUpdateConfig } from './InceptionAdamUpdate';
import { inceptionMomentumUpdateConfig } from './InceptionMomentumUpdate';
import { inceptionRMSPropUpdateConfig } from './InceptionRMSPropUpdate';

/** Every native `onednn` kernel; the rest of the CPU backend's kernels are registered as they are. */
export const NATIVE_KERNELS: KernelConfig[] = [
  conv2DConfig,
  fusedConv2DConfig,
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  inceptionAdamUpdateConfig,
  inceptionRMSPropUpdateConfig,
  inceptionMomentumUpdateConfig,
];
