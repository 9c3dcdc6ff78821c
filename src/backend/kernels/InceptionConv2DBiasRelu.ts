import { CONV2D_BIAS_RELU, type Conv2DBiasReluAttrs } from '../../ops/conv2d_bias_relu';
import { nativeKernel } from '../native_kernel';
import { convBiasActivation } from './FusedConv2D';

/** relu(conv2d + bias) for training: the same single primitive as FusedConv2D (src/ops/conv2d_bias_relu.ts). */
export const inceptionConv2DBiasReluConfig = nativeKernel(
  CONV2D_BIAS_RELU,
  ({ inputs: { x, filter, bias }, backend, attrs }) => {
    const y = convBiasActivation(backend, x, filter, bias, attrs as unknown as Conv2DBiasReluAttrs, true);
    if (!y) throw new Error(`onednn: ${CONV2D_BIAS_RELU} cannot express this convolution's geometry`);
    return y;
  },
);
