import { BATCH_NORM_TRAINING, type BatchNormTrainingAttrs } from '../../ops/batch_norm_training';
import { nativeKernel } from '../native_kernel';

/** Batch statistics and normalisation in one native pass (native/batchnorm.cc). */
export const inceptionBatchNormTrainingConfig = nativeKernel(
  BATCH_NORM_TRAINING,
  ({ inputs: { x, scale, offset }, backend, attrs }) => {
    const channels = x.shape[x.shape.length - 1] ?? 1;
    const [xs, scales, offsets] = [x, scale, offset].map((t) => backend.float32(t));
    if (!xs || !scales || !offsets) throw new Error('onednn: batchNormTraining takes float32 tensors');
    const y = backend.allocate(x.shape);
    const mean = new Float32Array(channels);
    const variance = new Float32Array(channels);
    const { epsilon } = attrs as unknown as BatchNormTrainingAttrs;
    backend.native.batchNormTraining(xs, scales, offsets, y, mean, variance, channels, epsilon);
    return [
      backend.output(x.shape, y),
      backend.output([channels], mean),
      backend.output([channels], variance),
    ];
  },
);
