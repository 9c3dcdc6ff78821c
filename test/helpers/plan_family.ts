// The family's builders at small input sizes (CI time), for the plan tests: odd and non-square inputs where
// the builder allows, to exercise 'same' pads; BN statistics away from their initial values.
import type { PlanNode } from '../../src/backend/plan_spec';
import { tf } from '../../src/index';
import { seeded } from './onednn';

/** Moving statistics, gamma and beta away from their 0/1/1/0 initial values, so that folding is exercised. */
export function randomizeBatchNorms(model: tf.LayersModel, seed = 7): void {
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() !== 'BatchNormalization') return;
    const weights = layer.getWeights();
    const fresh = weights.map((w, j) => {
      const u = seeded(w.size, seed + 31 * i + j);
      // Variance last: positive; the others in [0.5, 1.5) (gamma) or [-0.5, 0.5) (beta, mean).
      const isVariance = j === weights.length - 1;
      const isGamma = j === 0 && weights.length === 4;
      return tf.tensor(
        u.map((v) => (isVariance ? 0.5 + v * v : isGamma ? 1 + v / 2 : v / 2)),
        w.shape,
      );
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  });
}

export interface FamilyCase {
  label: string;
  builder: string;
  args: Record<string, unknown>;
  /** Ops the spec must not contain (fused away). */
  absent?: PlanNode['op'][];
}

/** Small inputs (CI time), odd and non-square ones where the builder allows, to exercise 'same' pads. */
export const FAMILY_CASES: FamilyCase[] = [
  {
    label: 'googlenet 37x45 softmax',
    builder: 'googlenet',
    args: { inputShape: [37, 45, 3], widthMultiplier: 0.25, numClasses: 5 },
  },
  {
    label: 'googlenet-paper 45x38',
    builder: 'googlenet-paper',
    args: { inputShape: [45, 38, 3], widthMultiplier: 0.25, classifierActivation: 'linear' },
  },
  {
    label: 'googlenet-paper caffe 45x38 linear',
    builder: 'googlenet-paper',
    args: { inputShape: [45, 38, 3], widthMultiplier: 0.25, caffe: true, classifierActivation: 'linear' },
  },
  {
    label: 'googlenet-paper aux heads (first output)',
    builder: 'googlenet-paper',
    args: {
      inputShape: [96, 96, 3],
      widthMultiplier: 0.125,
      auxClassifiers: true,
      classifierActivation: 'linear',
    },
  },
  {
    label: 'googlenet-bn 33x40',
    builder: 'googlenet-bn',
    args: { inputShape: [33, 40, 3], widthMultiplier: 0.25, classifierActivation: 'linear' },
    absent: ['affine', 'relu'],
  },
  {
    label: 'googlenet-cifar',
    builder: 'googlenet-cifar',
    args: { widthMultiplier: 0.25, classifierActivation: 'linear' },
    absent: ['affine', 'relu'],
  },
  {
    label: 'googlenet-cifar stemPool no BN',
    builder: 'googlenet-cifar',
    args: { widthMultiplier: 0.25, stemPool: true, batchNorm: false, classifierActivation: 'linear' },
  },
  {
    label: 'googlenet-torchvision transformInput 35x42',
    builder: 'googlenet-torchvision',
    args: {
      inputShape: [35, 42, 3],
      widthMultiplier: 0.25,
      numClasses: 10,
      transformInput: true,
      classifierActivation: 'linear',
    },
    absent: ['relu'],
  },
  {
    label: 'googlenet-torchvision auxLogits (first output)',
    builder: 'googlenet-torchvision',
    args: {
      inputShape: [64, 64, 3],
      widthMultiplier: 0.125,
      numClasses: 10,
      auxLogits: true,
      classifierActivation: 'linear',
    },
  },
  {
    label: 'inception-v3 75x80',
    builder: 'inception-v3',
    args: { inputShape: [75, 80, 3], widthMultiplier: 0.125, numClasses: 10, classifierActivation: 'linear' },
    absent: ['affine', 'relu'],
  },
  {
    label: 'inception-v3 no top, avg pooling',
    builder: 'inception-v3',
    args: { inputShape: [75, 75, 3], widthMultiplier: 0.125, includeTop: false, pooling: 'avg' },
  },
];
