import type { KernelConfig } from '@tensorflow/tfjs';
import { fusedMatMulConfig } from './_FusedMatMul';
import { avgPoolConfig } from './AvgPool';
import { avgPoolGradConfig } from './AvgPoolGrad';
import { batchMatMulConfig } from './BatchMatMul';
import { addConfig, multiplyConfig, realDivConfig, subConfig } from './binary_ops';
import { concatConfig } from './Concat';
import { conv2DConfig } from './Conv2D';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput';
import { fusedBatchNormConfig } from './FusedBatchNorm';
import { fusedConv2DConfig } from './FusedConv2D';
import { inceptionAdamUpdateConfig } from './InceptionAdamUpdate';
import { inceptionBatchNormTrainingConfig } from './InceptionBatchNormTraining';
import { inceptionBatchNormTrainingGradConfig } from './InceptionBatchNormTrainingGrad';
import { inceptionConv2DBiasReluConfig } from './InceptionConv2DBiasRelu';
import { inceptionConv2DBiasReluGradConfig } from './InceptionConv2DBiasReluGrad';
import { inceptionMomentumUpdateConfig } from './InceptionMomentumUpdate';
import { inceptionRMSPropUpdateConfig } from './InceptionRMSPropUpdate';
import { lrnConfig } from './LRN';
import { lrnGradConfig } from './LRNGrad';
import { maxPoolConfig } from './MaxPool';
import { maxPoolGradConfig } from './MaxPoolGrad';
import { meanConfig } from './Mean';
import { splitVConfig } from './SplitV';
import { sumConfig } from './Sum';
import { tileConfig } from './Tile';
import { reluConfig, stepConfig } from './unary_ops';

/** Every native `onednn` kernel; the rest of the CPU backend's kernels are registered as they are. */
export const NATIVE_KERNELS: KernelConfig[] = [
  conv2DConfig,
  fusedConv2DConfig,
  inceptionConv2DBiasReluConfig,
  inceptionConv2DBiasReluGradConfig,
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
  inceptionAdamUpdateConfig,
  inceptionRMSPropUpdateConfig,
  inceptionMomentumUpdateConfig,
  addConfig,
  subConfig,
  multiplyConfig,
  realDivConfig,
  reluConfig,
  stepConfig,
  lrnConfig,
  lrnGradConfig,
  fusedBatchNormConfig,
  inceptionBatchNormTrainingConfig,
  inceptionBatchNormTrainingGradConfig,
  tileConfig,
];
