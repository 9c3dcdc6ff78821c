import type * as tfTypes from '@tensorflow/tfjs';
import type { ActivationRanges } from '../src/inference/plan';

/**
 * int8 activation ranges for the bench's plans: the [min, max] of every layer's output (and of the input)
 * over `batches`, keyed as compilePlan's `ranges` are (Keras layer name, `input`). The bench calibrates on
 * the random-normal images it times with: its network has random weights, so no real images would be more
 * telling, and the ranges only have to be the right size for the int8 kernels to do the real work.
 */
export function activationRanges(
  tf: typeof tfTypes,
  model: tfTypes.LayersModel,
  batches: tfTypes.Tensor[],
): ActivationRanges {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer' && !Array.isArray(l.output));
  const probe = tf.model({
    inputs: model.inputs,
    outputs: layers.map((l) => l.output as tfTypes.SymbolicTensor),
  });
  const ranges: ActivationRanges = {};
  const widen = (name: string, t: tfTypes.Tensor) => {
    const [lo, hi] = [t.min().dataSync()[0], t.max().dataSync()[0]];
    if (!Number.isFinite(lo) || !Number.isFinite(hi))
      throw new Error(`calibration: ${name} holds ${lo}..${hi}`);
    const [a, b] = ranges[name] ?? [lo, hi];
    ranges[name] = [Math.min(a, lo), Math.max(b, hi)];
  };
  for (const x of batches) {
    tf.tidy(() => {
      widen('input', x);
      const outputs = probe.predict(x) as tfTypes.Tensor[];
      layers.forEach((layer, i) => {
        widen(layer.name, outputs[i]);
      });
    });
  }
  return ranges;
}
