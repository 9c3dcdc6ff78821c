import type * as tf from '@tensorflow/tfjs';
import type { Workload } from './types';

/** The network of one workload, as every measurement and the FLOP count build it. */
export type ModelSpec = Pick<Workload, 'model' | 'classes' | 'width' | 'size'>;

/** The notebook's googlenet with 10 classes; `--width` narrows it (the PyTorch twin follows). */
export const BENCH_MODEL = { model: 'googlenet', classes: 10 } as const;

/** Builds the tfjs model of `spec` with the project's own builder (random weights). */
export async function buildBenchModel(spec: ModelSpec): Promise<tf.LayersModel> {
  const { buildModel } = await import('../src/models/registry');
  return buildModel(spec.model, {
    inputShape: [spec.size, spec.size, 3],
    numClasses: spec.classes,
    widthMultiplier: spec.width,
  });
}

/** A short name for files and cache keys. */
export const specKey = (s: ModelSpec) => `${s.model}-${s.size}-${s.classes}-w${s.width}`;
