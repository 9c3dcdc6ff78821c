import type { KernelConfig } from '@tensorflow/tfjs';
import { fusedMatMulConfig } from './_FusedMatMul';
import { avgPoolConfig } from './AvgPool';
import { avgPoolGradConfig } from './AvgPoolGrad';
import { batchMatMulConfig } from './BatchMatMul';
import { concatConfig } from './Concat';
import { conv2DConfig } from './Conv2D';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput';
import { fusedConv2DConfig } from './FusedConv2D';
import { maxPoolConfig } from './MaxPool';
import { maxPoolGradConfig } from './MaxPoolGrad';
import { meanConfig } from './Mean';
import { reluConfig } from './Relu';
import { splitVConfig } from './SplitV';
import { stepConfig } from './Step';
import { sumConfig } from './Sum';

/** Every native `onednn` kernel; the rest of the CPU backend's kernels are registered as they are. */
export const NATIVE_KERNELS: KernelConfig[] = [
  conv2DConfig,
  fusedConv2DConfig,
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  maxPoolConfig,
  maxPoolGradConfig,
  avgPoolConfig,
  avgPoolGradConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  concatConfig,
  splitVConfig,
  sumConfig,
  meanConfig,
  reluConfig,
  stepConfig,
];
