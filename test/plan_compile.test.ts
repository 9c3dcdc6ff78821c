// The plan compiler (src/inference/plan_compile.ts) against tfjs: every builder of the family compiled to a
// PlanSpec, run by the tfjs reference interpreter (test/helpers/plan_reference.ts), equals model.predict.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlanSpec } from '../src/backend/plan_spec';
import { backendReady, tf } from '../src/index';
import { compileSpec } from '../src/inference/plan_compile';
import { samePadding } from '../src/inference/plan_pads';
import { PlanUnsupportedError } from '../src/inference/plan_types';
import { MODEL_BUILDERS } from '../src/models/registry';
import { assertClose, seededTensor } from './helpers/onednn';
import { FAMILY_CASES, randomizeBatchNorms } from './helpers/plan_family';
import { runPlanReference } from './helpers/plan_interpreter';

const TOLERANCE = 1e-4;

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
        for (const op of c.absent ?? [])
          assert.ok(
            !spec.nodes.some((n) => n.op === op),
            `${c.label}: ${op} left in ${JSON.stringify(countOps(spec))}`,
          );
        const x = seededTensor([batch, ...shape], 11 + batch) as tf.Tensor4D;
        try {
          assertClose(
            referenceValues(spec, x),
            predictValues(model, x),
            `${c.label} batch ${batch}`,
            TOLERANCE,
          );
        } finally {
          x.dispose();
        }
      }
    } finally {
      model.dispose();
    }
  });
}

test("'same' pads as tfjs computes them: the odd pixel after, for odd and even inputs", () => {
  assert.deepEqual(samePadding(224, 7, 2), [2, 3]);
  assert.deepEqual(samePadding(225, 7, 2), [3, 3]);
  assert.deepEqual(samePadding(8, 3, 2), [0, 1]);
  assert.deepEqual(samePadding(7, 3, 2), [1, 1]);
  assert.deepEqual(samePadding(8, 2, 1), [0, 1]);
  assert.deepEqual(samePadding(8, 3, 1, 2), [2, 2]);
  assert.deepEqual(samePadding(5, 1, 2), [0, 0]);
});

/** input → `body` as a model, for small compiler checks. */
function smallModel(shape: number[], body: (x: tf.SymbolicTensor) => tf.SymbolicTensor): tf.LayersModel {
  const input = tf.input({ shape });
  return tf.model({ inputs: input, outputs: body(input) });
}

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
  layer.apply(x) as tf.SymbolicTensor;

test('conv + BN + ReLU fold into one conv node with exactly the float64-folded weights', async () => {
  await backendReady;
  const model = smallModel([9, 8, 3], (x) => {
    const conv = apply(
      tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', name: 'c' }),
      x,
    );
    const bn = apply(tf.layers.batchNormalization({ epsilon: 0.01, name: 'bn' }), conv);
    return apply(tf.layers.reLU({ name: 'r' }), bn);
  });
  randomizeBatchNorms(model);
  model.getLayer('c').setWeights([seededTensor([3, 3, 3, 5], 1), seededTensor([5], 2)]);
  const spec = compileSpec(model, { batch: 2, precision: 'fp32' });
  assert.equal(spec.nodes.length, 1);
  const conv = spec.nodes[0];
  assert.ok(conv.op === 'conv');
  assert.equal(conv.name, 'r');
  assert.equal(conv.relu, true);
  assert.deepEqual(conv.pads, [1, 0, 1, 1]); // 9 rows: total 2, 1 + 1; 8 columns: total 1, after
  const [gamma, beta, mean, variance] = model
    .getLayer('bn')
    .getWeights()
    .map((w) => w.dataSync());
  const [w, b] = model
    .getLayer('c')
    .getWeights()
    .map((t) => t.dataSync());
  const scale = Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + 0.01));
  w.forEach((v, i) => {
    assert.equal(conv.filter[i], Math.fround(v * scale[i % 5]), `filter ${i}`);
  });
  b.forEach((v, c) => {
    assert.equal(conv.bias?.[c], Math.fround(v * scale[c] + (beta[c] - mean[c] * scale[c])), `bias ${c}`);
  });
  const x = seededTensor([2, 9, 8, 3], 4) as tf.Tensor4D;
  assertClose(referenceValues(spec, x), predictValues(model, x), 'folded conv', TOLERANCE);
  x.dispose();
  model.dispose();
});

test('a BN that cannot fold (after a ReLU conv, or on a shared conv output) becomes an affine node', async () => {
  await backendReady;
  const model = smallModel([6, 6, 2], (x) => {
    const c1 = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu' }), x);
    const bn1 = apply(tf.layers.batchNormalization({}), c1);
    const c2 = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1 }), bn1);
    const bn2 = apply(tf.layers.batchNormalization({}), c2);
    // c2 also feeds the concat: folding bn2 into it would change what the concat sees.
    return apply(tf.layers.concatenate({}), [bn2, c2]);
  });
  randomizeBatchNorms(model);
  const spec = compileSpec(model, { batch: 1, precision: 'fp32' });
  assert.deepEqual(countOps(spec), { conv: 2, affine: 2, concat: 1 });
  const x = seededTensor([1, 6, 6, 2], 5) as tf.Tensor4D;
  assertClose(referenceValues(spec, x), predictValues(model, x), 'unfolded BN', TOLERANCE);
  x.dispose();
  model.dispose();
});

test('a ReLU after a no-op layer is not fused into a conv whose output has another reader', async () => {
  await backendReady;
  const model = smallModel([5, 5, 2], (x) => {
    const conv = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), x);
    const dropped = apply(tf.layers.dropout({ rate: 0.5 }), conv);
    const relu = apply(tf.layers.activation({ activation: 'relu' }), dropped);
    return apply(tf.layers.concatenate({}), [relu, conv]);
  });
  const spec = compileSpec(model, { batch: 1, precision: 'fp32' });
  assert.deepEqual(countOps(spec), { conv: 1, relu: 1, concat: 1 });
  const x = seededTensor([1, 5, 5, 2], 6) as tf.Tensor4D;
  assertClose(referenceValues(spec, x), predictValues(model, x), 'shared conv', TOLERANCE);
  x.dispose();
  model.dispose();
});

test('zero padding merges into convs, max pools on non-negative input and valid average pools, else a pad node', async () => {
  await backendReady;
  const pad = () =>
    tf.layers.zeroPadding2d({
      padding: [
        [1, 2],
        [0, 1],
      ],
    });
  const cases: [string, (x: tf.SymbolicTensor) => tf.SymbolicTensor, number][] = [
    ['conv', (x) => apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2 }), apply(pad(), x)), 0],
    [
      'max pool of a signed input',
      (x) => apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2 }), apply(pad(), x)),
      1,
    ],
    [
      'max pool after a ReLU',
      (x) =>
        apply(
          tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
          apply(
            tf.layers.zeroPadding2d({
              padding: [
                [1, 1],
                [1, 0],
              ],
            }),
            apply(tf.layers.reLU({}), x),
          ),
        ),
      0,
    ],
    [
      // Its last row of windows lies in the padding: zeros there, but nothing to take the max of natively.
      'max pool after a ReLU with a window all padding',
      (x) =>
        apply(
          tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
          apply(pad(), apply(tf.layers.reLU({}), x)),
        ),
      1,
    ],
    [
      'valid average pool',
      (x) => apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }), apply(pad(), x)),
      0,
    ],
    [
      "'same' average pool (excludes its own padding, not the zeros)",
      (x) => apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), apply(pad(), x)),
      1,
    ],
    ['global average pool', (x) => apply(tf.layers.globalAveragePooling2d({}), apply(pad(), x)), 1],
  ];
  for (const [label, body, pads] of cases) {
    const model = smallModel([7, 6, 3], body);
    const spec = compileSpec(model, { batch: 2, precision: 'fp32' });
    assert.equal(countOps(spec).pad ?? 0, pads, `${label}: pad nodes in ${JSON.stringify(countOps(spec))}`);
    const x = seededTensor([2, 7, 6, 3], 8) as tf.Tensor4D;
    assertClose(referenceValues(spec, x), predictValues(model, x), label, TOLERANCE);
    x.dispose();
    model.dispose();
  }
});

test('an unsupported layer is named with its class', async () => {
  await backendReady;
  const model = smallModel([6, 6, 2], (x) => {
    const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'a' }), x);
    return apply(tf.layers.add({ name: 'sum' }), [a, x]);
  });
  assert.throws(
    () => compileSpec(model, { batch: 1, precision: 'fp32' }),
    (err: Error) => err instanceof PlanUnsupportedError && /layer 'sum' \(Add\)/.test(err.message),
  );
  const separable = smallModel([6, 6, 2], (x) =>
    apply(tf.layers.separableConv2d({ filters: 2, kernelSize: 3, name: 'sep' }), x),
  );
  assert.throws(
    () => compileSpec(separable, { batch: 1, precision: 'fp32' }),
    /layer 'sep' \(SeparableConv2D\)/,
  );
  model.dispose();
  separable.dispose();
});

test('int8 ranges map to plan tensors by Keras layer name (fused groups by their last layer)', async () => {
  await backendReady;
  const model = smallModel([4, 4, 3], (x) => {
    const conv = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'conv' }), x);
    const bn = apply(tf.layers.batchNormalization({ name: 'bn' }), conv);
    const relu = apply(tf.layers.activation({ activation: 'relu', name: 'relu' }), bn);
    return apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), relu);
  });
  const spec = compileSpec(model, {
    batch: 1,
    precision: 'int8',
    ranges: { input: [-1, 1], relu: [0, 6], gap: [0, 3] },
  });
  assert.deepEqual(spec.ranges, [
    [-1, 1],
    [0, 6],
    [0, 3],
    [0, 3],
  ]);
  assert.deepEqual(
    spec.nodes.map((n) => n.op),
    ['conv', 'pool', 'flatten'],
  );
  model.dispose();
});

test('one full 224x224 googlenet at batch 1', async () => {
  await backendReady;
  const model = MODEL_BUILDERS.googlenet({ seed: 5, classifierActivation: 'linear' });
  const spec = compileSpec(model, { batch: 1, precision: 'fp32' });
  const x = seededTensor([1, 224, 224, 3], 9) as tf.Tensor4D;
  assertClose(referenceValues(spec, x), predictValues(model, x), 'googlenet 224', TOLERANCE);
  x.dispose();
  model.dispose();
});
