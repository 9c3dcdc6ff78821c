// The planned inference path behind classProbabilities (predict, evaluate, serve, report): same numbers as
// tfjs, one fallback notice per model, plans recompiled after training and loading, precision errors. Runs
// on the native executor when the addon has it, else on the tfjs reference executor (same plan API).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inPlaceWriteCount } from '../src/backend/in_place';
import type { Precision } from '../src/backend/plan_spec';
import { backendReady, tf } from '../src/index';
import { classifier, classProbabilities } from '../src/inference/classify';
import {
  calibratedRanges,
  compilePlan,
  PrecisionUnavailableError,
  precisionUnavailable,
} from '../src/inference/plan';
import { MAX_PLAN_BATCH, planBatches, planFor, setFallbackNotice } from '../src/inference/planned';
import { googlenet } from '../src/models/googlenet';
import { MODEL_BUILDERS } from '../src/models/registry';
import { FusedAdamOptimizer } from '../src/training/fused_optimizers';
import { assertClose, countNativeCalls, seededTensor, skipWithoutAddon } from './helpers/onednn';
import { FAMILY_CASES, randomizeBatchNorms } from './helpers/plan_family';
import { hasNativeExecutor, installReferenceExecutor } from './helpers/reference_executor';

const TOLERANCE = 1e-4;
let uninstall = () => {};

before(async () => {
  await backendReady;
  if (skipWithoutAddon) return;
  tf.setBackend('onednn');
  uninstall = installReferenceExecutor();
  console.log(`# plan executor: ${hasNativeExecutor() ? 'native' : 'tfjs reference (the addon has none)'}`);
});
after(() => uninstall());

function smallGooglenet(seed: number): tf.LayersModel {
  return googlenet({
    inputShape: [32, 32, 3],
    numClasses: 4,
    widthMultiplier: 0.125,
    seed,
    classifierActivation: 'linear',
  });
}

function tfjsProbabilities(model: tf.LayersModel, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

async function planned(
  model: tf.LayersModel,
  x: tf.Tensor4D,
): Promise<{ probs: Float32Array; runs: number }> {
  let pending: Promise<Float32Array> | undefined;
  const runs = countNativeCalls('planRun', () => {
    pending = classProbabilities(model, x);
  });
  const probs = await (pending as Promise<Float32Array>);
  return { probs, runs };
}

test('batches split into planned power-of-two sizes', () => {
  assert.deepEqual(planBatches(1), [1]);
  assert.deepEqual(planBatches(13), [8, 4, 1]);
  assert.deepEqual(planBatches(32), [32]);
  assert.deepEqual(planBatches(2 * MAX_PLAN_BATCH + 3), [MAX_PLAN_BATCH, MAX_PLAN_BATCH, 2, 1]);
});

test('classProbabilities runs the plan on onednn and gives tfjs numbers (batch 1 and 3)', {
  skip: skipWithoutAddon,
}, async () => {
  const model = smallGooglenet(1);
  for (const batch of [1, 3]) {
    const x = seededTensor([batch, 32, 32, 3], batch) as tf.Tensor4D;
    const { probs, runs } = await planned(model, x);
    assert.equal(runs, batch === 3 ? 2 : 1, 'plan runs (3 = 2 + 1)');
    assertClose(probs, tfjsProbabilities(model, x), `batch ${batch}`, TOLERANCE);
    x.dispose();
  }
  assert.equal(planFor(model, 1), planFor(model, 1), 'the plan is reused');
  model.dispose();
});

test('classifier over HWC arrays gives tfjs numbers for softmax and linear heads, leaving its inputs as they were', {
  skip: skipWithoutAddon,
}, async () => {
  for (const classifierActivation of ['softmax', 'linear'] as const) {
    const model = googlenet({
      inputShape: [32, 32, 3],
      numClasses: 4,
      widthMultiplier: 0.125,
      seed: 5,
      classifierActivation,
    });
    const info = {
      model: 'googlenet',
      widthMultiplier: 0.125,
      labels: ['a', 'b', 'c', 'd'],
      preprocessing: {
        inputShape: [32, 32, 3] as [number, number, number],
        mean: [0, 0, 0],
        std: [1, 1, 1],
        resize: 'fill' as const,
      },
    };
    const run = classifier(model, info);
    for (const batch of [1, 2]) {
      const x = seededTensor([batch, 32, 32, 3], 10 + batch) as tf.Tensor4D;
      const flat = x.dataSync() as Float32Array;
      const inputs = Array.from({ length: batch }, (_, i) =>
        flat.slice(i * 32 * 32 * 3, (i + 1) * 32 * 32 * 3),
      );
      const copies = inputs.map((a) => a.slice());
      const rows = await run(inputs);
      const expected = tf.tidy(() => {
        const y = model.predict(x) as tf.Tensor;
        return (classifierActivation === 'linear' ? tf.softmax(y) : y).dataSync() as Float32Array;
      });
      rows.forEach((row, i) => {
        assertClose(
          row,
          expected.subarray(i * 4, (i + 1) * 4),
          `${classifierActivation} batch ${batch} row ${i}`,
          TOLERANCE,
        );
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'probabilities sum to 1');
      });
      assert.deepEqual(inputs, copies, 'inputs unchanged');
      x.dispose();
    }
    model.dispose();
  }
});

test('a model with an unsupported layer runs on tfjs with one notice', {
  skip: skipWithoutAddon,
}, async () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const a = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'a' }).apply(input) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([a, input]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(sum) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'residual' });
  const notices: string[] = [];
  setFallbackNotice((line) => notices.push(line));
  try {
    for (let i = 0; i < 3; i++) {
      const x = seededTensor([2, 8, 8, 3], 20 + i) as tf.Tensor4D;
      const { probs, runs } = await planned(model, x);
      assert.equal(runs, 0);
      assertClose(
        probs,
        tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array),
        `batch ${i}`,
        1e-6,
      );
      x.dispose();
    }
  } finally {
    setFallbackNotice();
  }
  assert.equal(notices.length, 1, notices.join('\n'));
  assert.match(notices[0], /residual .*layer 'sum' \(Add\)/);
  await assert.rejects(
    classProbabilities(model, tf.zeros([1, 8, 8, 3]) as tf.Tensor4D, undefined, {
      precision: 'int8',
      ranges: {},
    }),
    (err: Error) => err instanceof PrecisionUnavailableError && /int8: .*'sum' \(Add\)/.test(err.message),
  );
  model.dispose();
});

test('a training step with the fused optimizer (in place) and setWeights both recompile the plan', {
  skip: skipWithoutAddon,
}, async () => {
  const model = smallGooglenet(2);
  const x = seededTensor([2, 32, 32, 3], 30) as tf.Tensor4D;
  const y = tf.tensor2d([0, 1, 0, 0, 0, 0, 0, 1], [2, 4]);
  const before = (await planned(model, x)).probs;
  model.compile({
    optimizer: new FusedAdamOptimizer(0.01, 0.9, 0.999, 1e-7),
    loss: 'meanSquaredError',
  });
  const ids = model.weights.map((w) => w.read().dataId);
  const writes = inPlaceWriteCount();
  await model.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
  const inPlace = model.weights.filter((w, i) => w.read().dataId === ids[i]).length;
  assert.ok(inPlaceWriteCount() > writes && inPlace > 0, 'the optimizer updated weights in place');
  const afterStep = (await planned(model, x)).probs;
  assertClose(afterStep, tfjsProbabilities(model, x), 'after a training step', TOLERANCE);
  const change = Math.max(...afterStep.map((v, i) => Math.abs(v - before[i])));
  assert.ok(change > 1e-3, `the step changed the outputs by ${change}: ${before} -> ${afterStep}`);

  const other = smallGooglenet(3);
  model.setWeights(other.getWeights());
  const loaded = (await planned(model, x)).probs;
  assertClose(loaded, tfjsProbabilities(other, x), 'after setWeights', TOLERANCE);
  tf.dispose([x, y]);
  model.dispose();
  other.dispose();
});

test('precision: int8 needs ranges; bf16 needs the ISA; anything but fp32 needs the planned path', {
  skip: skipWithoutAddon,
}, async () => {
  const model = smallGooglenet(4);
  assert.throws(
    () => compilePlan(model, { batch: 1, precision: 'int8' }),
    /int8 needs calibrated activation ranges/,
  );
  const native = (tf.findBackend('onednn') as unknown as { native: { cpuIsa: string } }).native;
  const isa = Object.getOwnPropertyDescriptor(native, 'cpuIsa');
  Object.defineProperty(native, 'cpuIsa', { value: 'avx2', configurable: true });
  try {
    assert.match(
      precisionUnavailable('bf16') ?? '',
      /--precision bf16: this CPU \(avx2\) lacks AVX512_BF16 and AMX/,
    );
    assert.throws(() => compilePlan(model, { batch: 1, precision: 'bf16' }), PrecisionUnavailableError);
  } finally {
    if (isa) Object.defineProperty(native, 'cpuIsa', isa);
  }
  tf.setBackend('cpu');
  try {
    assert.match(
      precisionUnavailable('int8') ?? '',
      /int8 needs the native oneDNN engine.*engine in use: cpu/,
    );
    assert.equal(precisionUnavailable('fp32'), null);
  } finally {
    tf.setBackend('onednn');
  }
  model.dispose();
});

const nativeSkip = () =>
  skipWithoutAddon || !hasNativeExecutor() ? 'the addon has no native plan executor' : false;

function predicted(model: tf.LayersModel, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => {
    const y = model.predict(x);
    return (Array.isArray(y) ? y[0] : y).dataSync() as Float32Array;
  });
}

for (const c of FAMILY_CASES) {
  test(`native plan of ${c.label} equals model.predict (batch 1 and 3)`, async (t) => {
    const skip = nativeSkip();
    if (skip) return t.skip(skip);
    const model = MODEL_BUILDERS[c.builder]({ seed: 3, ...c.args });
    randomizeBatchNorms(model);
    const shape = model.inputs[0].shape.slice(1) as number[];
    for (const batch of [1, 3]) {
      const plan = compilePlan(model, { batch });
      const x = seededTensor([batch, ...shape], 11 + batch) as tf.Tensor4D;
      assertClose(
        plan.run(x.dataSync() as Float32Array),
        predicted(model, x),
        `${c.label} batch ${batch}`,
        TOLERANCE,
      );
      plan.dispose();
      x.dispose();
    }
    model.dispose();
  });
}

test('native plan of a full 224x224 googlenet at batch 1 equals model.predict', async (t) => {
  const skip = nativeSkip();
  if (skip) return t.skip(skip);
  const model = googlenet({ seed: 5, classifierActivation: 'linear' });
  const plan = compilePlan(model, { batch: 1 });
  const x = seededTensor([1, 224, 224, 3], 9) as tf.Tensor4D;
  assertClose(plan.run(x.dataSync() as Float32Array), predicted(model, x), 'googlenet 224', TOLERANCE);
  plan.dispose();
  x.dispose();
  model.dispose();
});

test('bf16, and int8 with ranges calibrated by layer name, stay close to fp32', async (t) => {
  const skip = nativeSkip();
  if (skip) return t.skip(skip);
  const model = googlenet({
    seed: 1,
    inputShape: [64, 64, 3],
    widthMultiplier: 0.25,
    classifierActivation: 'linear',
  });
  const x = seededTensor([4, 64, 64, 3], 40);
  const input = x.dataSync() as Float32Array;
  const calibration = compilePlan(model, { batch: 4, calibrate: true });
  const fp32 = calibration.run(input);
  const ranges = calibratedRanges(calibration);
  calibration.dispose();
  assert.ok(ranges.input && ranges.output, `ranges for the input and the head: ${Object.keys(ranges)}`);
  const precisions: [Precision, number][] = [['int8', 5e-2]];
  if (precisionUnavailable('bf16') === null) precisions.push(['bf16', 3e-2]);
  else t.diagnostic(`bf16 skipped: ${precisionUnavailable('bf16')}`);
  for (const [precision, tolerance] of precisions) {
    const plan = compilePlan(model, { batch: 4, precision, ranges });
    assertClose(plan.run(input), fp32, precision, tolerance);
    plan.dispose();
  }
  x.dispose();
  model.dispose();
});
