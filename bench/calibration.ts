import type * as tfTypes from '@tensorflow/tfjs';
import { type ActivationRanges, calibratedRanges, compilePlan } from '../src/inference/plan';

/** Random-normal batches of CALIBRATION.batch images the bench's int8 models are calibrated on. */
export const CALIBRATION = { batches: 4, batch: 2 };

/**
 * int8 activation ranges for the bench's int8 models, keyed as compilePlan's `ranges` (Keras layer name,
 * `input`): a calibrating fp32 plan run on CALIBRATION's random-normal images. The bench's network has
 * random weights, so real images would tell nothing more; the ranges only have to be the right size for
 * the int8 kernels to do the real work.
 */
export function randomNormalRanges(tf: typeof tfTypes, model: tfTypes.LayersModel): ActivationRanges {
  const [h, w, c] = (model.inputs[0].shape as number[]).slice(1);
  const plan = compilePlan(model, { batch: CALIBRATION.batch, calibrate: true });
  try {
    for (let b = 0; b < CALIBRATION.batches; b++) {
      const x = tf.randomNormal([CALIBRATION.batch, h, w, c]);
      plan.run(x.dataSync() as Float32Array);
      x.dispose();
    }
    return calibratedRanges(plan);
  } finally {
    plan.dispose();
  }
}
