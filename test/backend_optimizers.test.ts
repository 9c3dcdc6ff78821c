import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { googlenet, tf } from '../src/index';
import {
  FusedAdamOptimizer,
  FusedMomentumOptimizer,
  FusedRMSPropOptimizer,
} from '../src/training/fused_optimizers';
import { assertClose, countNativeCalls, seeded, seededTensor, skipWithoutAddon } from './helpers/onednn';

/** Fused and tfjs updates do the same float32 operations in the same order: only FMA-free rounding differs. */
const EXACT = 1e-5;

interface Case {
  label: string;
  native: string;
  tfjs: (lr: number) => tf.Optimizer;
  fused: (lr: number) => tf.Optimizer;
}

const CASES: Case[] = [
  {
    label: 'Adam',
    native: 'adamUpdate',
    tfjs: (lr) => tf.train.adam(lr, 0.9, 0.999, 1e-7),
    fused: (lr) => new FusedAdamOptimizer(lr, 0.9, 0.999, 1e-7),
  },
  {
    label: 'RMSprop',
    native: 'rmsPropUpdate',
    tfjs: (lr) => tf.train.rmsprop(lr, 0.9, 0, 1e-7),
    fused: (lr) => new FusedRMSPropOptimizer(lr, 0.9, 0, 1e-7),
  },
  {
    // tfjs's centered form takes sqrt(ms - (mg^2 + eps)): a large eps makes it NaN for small gradients.
    label: 'RMSprop centered with momentum',
    native: 'rmsPropUpdate',
    tfjs: (lr) => tf.train.rmsprop(lr, 0.8, 0.5, 1e-12, true),
    fused: (lr) => new FusedRMSPropOptimizer(lr, 0.8, 0.5, 1e-12, true),
  },
  {
    label: 'momentum',
    native: 'momentumUpdate',
    tfjs: (lr) => tf.train.momentum(lr, 0.9),
    fused: (lr) => new FusedMomentumOptimizer(lr, 0.9),
  },
  {
    label: 'Nesterov momentum',
    native: 'momentumUpdate',
    tfjs: (lr) => tf.train.momentum(lr, 0.7, true),
    fused: (lr) => new FusedMomentumOptimizer(lr, 0.7, true),
  },
];

// Odd sizes, one above the native code's threshold for going multi-threaded (32768 elements).
const SHAPES = [[3, 5, 7, 4], [13], [1], [3, 3, 61, 70]];
const STEPS = 4;

/** Same-named learning-rate change that callbacks make (ReduceLROnPlateau), halfway through. */
function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}

interface Trained {
  weights: Float32Array[];
  state: { name: string; values: Float32Array }[];
  nativeCalls: number;
}

let runId = 0;

/** Trains fresh variables for STEPS steps of a loss with non-trivial gradients; returns weights and state. */
async function train(backend: 'cpu' | 'onednn', make: (lr: number) => tf.Optimizer, native: string) {
  await tf.setBackend(backend);
  const id = runId++;
  const variables = SHAPES.map((shape, i) => tf.variable(seededTensor(shape, 10 + i), true, `w${id}_${i}`));
  const targets = SHAPES.map((shape, i) => seededTensor(shape, 20 + i));
  const optimizer = make(0.01);
  const loss = () =>
    tf.addN(
      variables.map((v, i) => tf.sum(tf.add(tf.mul(tf.square(tf.sub(v, targets[i])), tf.sin(v)), v))),
    ) as tf.Scalar;
  let nativeCalls = 0;
  for (let step = 0; step < STEPS; step++) {
    if (step === 2) setLearningRate(optimizer, 0.003);
    nativeCalls += countNativeCalls(native, () => optimizer.minimize(loss));
  }
  const result: Trained = {
    weights: variables.map((v) => v.dataSync() as Float32Array),
    state: (await optimizer.getWeights()).map(({ name, tensor }) => ({
      name: name.replace(`w${id}_`, 'w_'),
      values: tensor.dataSync() as Float32Array,
    })),
    nativeCalls,
  };
  tf.dispose([...variables, ...targets]);
  optimizer.dispose();
  return result;
}

function assertSameTraining(actual: Trained, expected: Trained, label: string): void {
  actual.weights.forEach((w, i) => {
    assertClose(w, expected.weights[i], `${label} weight ${i}`, EXACT);
  });
  assert.deepEqual(
    actual.state.map((s) => s.name),
    expected.state.map((s) => s.name),
    `${label}: optimizer weight names`,
  );
  actual.state.forEach((s, i) => {
    assertClose(s.values, expected.state[i].values, `${label} ${s.name}`, EXACT);
  });
}

describe('fused optimizers', () => {
  for (const c of CASES) {
    test(`${c.label} on cpu is tfjs's (no fused kernel there)`, async () => {
      const fused = await train('cpu', c.fused, c.native);
      assertSameTraining(fused, await train('cpu', c.tfjs, c.native), c.label);
    });
  }
});

describe('fused optimizers on onednn match tfjs on cpu', { skip: skipWithoutAddon }, () => {
  for (const c of CASES) {
    test(c.label, async () => {
      const fused = await train('onednn', c.fused, c.native);
      assert.equal(fused.nativeCalls, STEPS * SHAPES.length, 'one native update per variable per step');
      assertSameTraining(fused, await train('cpu', c.tfjs, c.native), c.label);
      // And tfjs's own optimizer on onednn (the unfused path) agrees too.
      assertSameTraining(fused, await train('onednn', c.tfjs, c.native), `${c.label} vs tfjs on onednn`);
    });
  }

  test('state restored with setWeights continues exactly as tfjs does', async () => {
    const continueAfterRestore = async (backend: 'cpu' | 'onednn', make: () => tf.Optimizer) => {
      await tf.setBackend(backend);
      const w = tf.variable(seededTensor([5, 7], 1), true, `restore_${runId++}`);
      const loss = () => tf.sum(tf.mul(tf.square(w), tf.cos(w))) as tf.Scalar;
      const first = make();
      for (let i = 0; i < 3; i++) first.minimize(loss);
      const second = make();
      await second.setWeights(await first.getWeights());
      first.dispose();
      for (let i = 0; i < 2; i++) second.minimize(loss);
      const values = w.dataSync() as Float32Array;
      tf.dispose(w);
      second.dispose();
      return values;
    };
    assertClose(
      await continueAfterRestore('onednn', () => new FusedAdamOptimizer(0.01, 0.9, 0.999, 1e-7)),
      await continueAfterRestore('cpu', () => tf.train.adam(0.01, 0.9, 0.999, 1e-7)),
      'Adam after setWeights',
      EXACT,
    );
  });

  test('a tensor sharing a variable storage keeps its values (no in-place write then)', async () => {
    await tf.setBackend('onednn');
    const initial = tf.tensor(seeded(40, 3), [40]);
    const w = tf.variable(initial, true, `shared_${runId++}`); // shares storage with `initial`
    const before = initial.dataSync().slice();
    const optimizer = new FusedMomentumOptimizer(0.1, 0.9);
    optimizer.minimize(() => tf.sum(tf.square(w)) as tf.Scalar);
    assert.deepEqual(initial.dataSync(), before, 'the tensor the variable was made from is unchanged');
    assert.notDeepEqual(w.dataSync(), before, 'the variable moved');
    tf.dispose([initial, w]);
    optimizer.dispose();
  });

  test('convolutions see the updated filter (no stale cached reorder after an in-place update)', async () => {
    await tf.setBackend('onednn');
    const x = seededTensor([2, 9, 9, 5], 4) as tf.Tensor4D;
    const filter = tf.variable(seededTensor([3, 3, 5, 17], 5), true, `filter_${runId++}`);
    const optimizer = new FusedAdamOptimizer(0.05, 0.9, 0.999, 1e-7);
    const loss = () => tf.sum(tf.conv2d(x, filter as tf.Tensor4D, 1, 'same')) as tf.Scalar;
    for (let i = 0; i < 2; i++) optimizer.minimize(loss);
    const onednn = tf.tidy(() => tf.conv2d(x, filter as tf.Tensor4D, 1, 'same').dataSync() as Float32Array);
    const filterValues = filter.dataSync().slice();
    await tf.setBackend('cpu');
    const cpu = tf.tidy(
      () =>
        tf
          .conv2d(
            tf.tensor4d(x.dataSync(), x.shape),
            tf.tensor4d(filterValues, filter.shape as [number, number, number, number]),
            1,
            'same',
          )
          .dataSync() as Float32Array,
    );
    assertClose(onednn, cpu, 'conv2d after the update', 1e-4);
    await tf.setBackend('onednn');
    tf.dispose([x, filter]);
    optimizer.dispose();
  });

  test('no tensors leak over repeated fused steps', async () => {
    await tf.setBackend('onednn');
    const w = tf.variable(seededTensor([3, 3, 8, 13], 6), true, `leak_${runId++}`);
    const optimizer = new FusedRMSPropOptimizer(0.01, 0.9, 0.9, 1e-7, true);
    const loss = () => tf.sum(tf.square(w)) as tf.Scalar;
    optimizer.minimize(loss); // creates the state
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) optimizer.minimize(loss);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose(w);
    optimizer.dispose();
  });

  test('a small GoogLeNet trained with the fused Adam: tensors and RSS flat over 40 steps', async () => {
    await tf.setBackend('onednn');
    const model = googlenet({ inputShape: [32, 32, 3], widthMultiplier: 0.05, seed: 1 });
    model.compile({
      optimizer: new FusedAdamOptimizer(1e-3, 0.9, 0.999, 1e-7),
      loss: 'categoricalCrossentropy',
    });
    const x = seededTensor([3, 32, 32, 3], 7);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2], 'int32'), 10);
    for (let i = 0; i < 10; i++) await model.trainOnBatch(x, y); // optimizer slots, caches, pool
    const tensors = tf.memory().numTensors;
    const rss = process.memoryUsage().rss;
    let updates = 0;
    for (let i = 0; i < 30; i++) {
      updates += await countNativeCallsAsync('adamUpdate', () => model.trainOnBatch(x, y));
    }
    assert.equal(updates, 30 * model.trainableWeights.length, 'every variable updated natively each step');
    assert.equal(tf.memory().numTensors, tensors, 'tensor count grew');
    const growth = (process.memoryUsage().rss - rss) / 2 ** 20;
    assert.ok(growth < 64, `RSS grew by ${growth.toFixed(1)} MiB over 30 steps`);
    tf.dispose([x, y]);
    model.dispose();
  });
});

/** countNativeCalls for an async body (trainOnBatch): counts while the promise is pending. */
async function countNativeCallsAsync(name: string, body: () => Promise<unknown>): Promise<number> {
  let pending: Promise<unknown> = Promise.resolve();
  let calls = countNativeCalls(name, () => {
    pending = body();
  });
  const native = (
    tf.findBackend('onednn') as unknown as { native: Record<string, (...a: unknown[]) => unknown> }
  ).native;
  const original = native[name];
  native[name] = (...args: unknown[]) => {
    calls++;
    return original(...args);
  };
  try {
    await pending;
  } finally {
    native[name] = original;
  }
  return calls;
}
