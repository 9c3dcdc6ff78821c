// The plan compiler (src/inference/plan_compile.ts) against tfjs: every builder of the family compiled to a
// PlanSpec, run by the tfjs reference interpreter (test/helpers/plan_reference.ts), equals model.predict.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendReady, tf } from '../src/index';
import type { PlanNode, PlanSpec } from '../src/backend/plan_spec';
import { compileSpec } from '../src/inference/plan_compile';
import { PlanUnsupportedError } from '../src/inference/plan_types';
import { MODEL_BUILDERS } from '../src/models/registry';
import { assertClose, seeded, seededTensor } from './helpers/onednn';
import { runPlanReference } from './helpers/plan_reference';

const TOLERANCE = 1e-4;

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

function predictValues(model: tf.LayersModel, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => {
    const y = model.predict(x);
    return (Array.isArray(y) ? y[0] : y).dataSync() as Float32Array;
  });
}

function referenceValues(spec: PlanSpec, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => runPlanReference(spec, x).dataSync() as Float32Array);
}

function countOps(spec: PlanSpec): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of spec.nodes) counts[n.op] = (counts[n.op] ?? 0) + 1;
  return counts;
}

interface Case {
  label: string;
  builder: string;
  args: Record<string, unknown>;
  /** Ops the spec must not contain (fused away). */
  absent?: PlanNode['op'][];
}

/** Small inputs (CI time), odd and non-square ones where the builder allows, to exercise 'same' pads. */
export const FAMILY_CASES: Case[] = [
  { label: 'googlenet 37x45 softmax', builder: 'googlenet', args: { inputShape: [37, 45, 3], widthMultiplier: 0.25, numClasses: 5 } },
  { label: 'googlenet-paper 45x38', builder: 'googlenet-paper', args: { inputShape: [45, 38, 3], widthMultiplier: 0.25, classifierActivation: 'linear' } },
  {
    label: 'googlenet-paper caffe 45x38 linear',
    builder: 'googlenet-paper',
    args: { inputShape: [45, 38, 3], widthMultiplier: 0.25, caffe: true, classifierActivation: 'linear' },
  },
  {
    label: 'googlenet-paper aux heads (first output)',
    builder: 'googlenet-paper',
    args: { inputShape: [96, 96, 3], widthMultiplier: 0.125, auxClassifiers: true, classifierActivation: 'linear' },
  },
  { label: 'googlenet-bn 33x40', builder: 'googlenet-bn', args: { inputShape: [33, 40, 3], widthMultiplier: 0.25, classifierActivation: 'linear' }, absent: ['affine', 'relu'] },
  { label: 'googlenet-cifar', builder: 'googlenet-cifar', args: { widthMultiplier: 0.25, classifierActivation: 'linear' }, absent: ['affine', 'relu'] },
  { label: 'googlenet-cifar stemPool no BN', builder: 'googlenet-cifar', args: { widthMultiplier: 0.25, stemPool: true, batchNorm: false, classifierActivation: 'linear' } },
  {
    label: 'googlenet-torchvision transformInput 35x42',
    builder: 'googlenet-torchvision',
    args: { inputShape: [35, 42, 3], widthMultiplier: 0.25, numClasses: 10, transformInput: true, classifierActivation: 'linear' },
    absent: ['relu'],
  },
  {
    label: 'googlenet-torchvision auxLogits (first output)',
    builder: 'googlenet-torchvision',
    args: { inputShape: [64, 64, 3], widthMultiplier: 0.125, numClasses: 10, auxLogits: true, classifierActivation: 'linear' },
  },
  { label: 'inception-v3 75x80', builder: 'inception-v3', args: { inputShape: [75, 80, 3], widthMultiplier: 0.125, numClasses: 10, classifierActivation: 'linear' }, absent: ['affine', 'relu'] },
  { label: 'inception-v3 no top, avg pooling', builder: 'inception-v3', args: { inputShape: [75, 75, 3], widthMultiplier: 0.125, includeTop: false, pooling: 'avg' } },
];

test('every builder of the family is covered', () => {
  const covered = new Set(FAMILY_CASES.map((c) => c.builder));
  for (const name of Object.keys(MODEL_BUILDERS)) assert.ok(covered.has(name), `${name} has no plan case`);
});

for (const c of FAMILY_CASES) {
  test(`plan spec of ${c.label} equals model.predict (batch 1 and 3)`, async () => {
    await backendReady;
    const model = MODEL_BUILDERS[c.builder]({ seed: 3, ...c.args });
    try {
      randomizeBatchNorms(model);
      const shape = model.inputs[0].shape.slice(1) as number[];
      for (const batch of [1, 3]) {
        const spec = compileSpec(model, { batch, precision: 'fp32' });
        for (const op of c.absent ?? []) assert.ok(!spec.nodes.some((n) => n.op === op), `${c.label}: ${op} left in ${JSON.stringify(countOps(spec))}`);
        const x = seededTensor([batch, ...shape], 11 + batch) as tf.Tensor4D;
        try {
          assertClose(referenceValues(spec, x), predictValues(model, x), `${c.label} batch ${batch}`, TOLERANCE);
        } finally {
          x.dispose();
        }
      }
    } finally {
      model.dispose();
    }
  });
}
