import { BATCH_NORM_TRAINING_GRAD, type BatchNormTrainingAttrs } from '../../ops/batch_norm_training';
import { nativeKernel } from '../native_kernel';

/** The gradient of InceptionBatchNormTraining, through the batch statistics, in one native pass. */
export const inceptionBatchNormTrainingGradConfig = nativeKernel(
  BATCH_NORM_TRAINING_GRAD,
  ({ inputs: { dy, x, scale, mean, variance }, backend, attrs }) => {
    const channels = x.shape[x.shape.length - 1] ?? 1;
    const arrays = [dy, x, scale, mean, variance].map((t) => backend.float32(t));
    if (arrays.some((a) => a === null))
      throw new Error('onednn: batchNormTrainingGrad takes float32 tensors');
    const [dys, xs, scales, means, variances] = arrays as Float32Array[];
    const dx = backend.allocate(x.shape);
    const dScale = new Float32Array(channels);
    const dOffset = new Float32Array(channels);
    const { epsilon } = attrs as unknown as BatchNormTrainingAttrs;
    backend.native.batchNormTrainingGrad(
      dys,
      xs,
      scales,
      means,
      variances,
      dx,
      dScale,
      dOffset,
      channels,
      epsilon,
    );
    return [
      backend.output(x.shape, dx),
      backend.output([channels], dScale),
      backend.output([channels], dOffset),
    ];
  },
);
