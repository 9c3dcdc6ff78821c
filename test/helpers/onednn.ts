// Shared by the backend tests: run the same computation on `onednn` and `cpu` and compare.
import assert from 'node:assert/strict';
import { addonLoadError } from '../../src/backend/addon';
import { registerOneDnnBackend } from '../../src/backend/register';
import { tf } from '../../src/index';

/** node:test `skip` option: false when the addon is built, else the visible reason. */
export const skipWithoutAddon: string | false = registerOneDnnBackend()
  ? false
  : `onednn addon not built: ${addonLoadError()}`;

/**
 * Tolerance: max |onednn - cpu| over all elements, divided by max |cpu| (relative to the tensor's scale,
 * since per-element relative error is meaningless near zero). oneDNN sums in a different order and uses
 * FMA; differences are float32 rounding, ~1e-6 for these sizes.
 */
export const TOLERANCE = 1e-3;

/** Deterministic values in [-1, 1) from a seed, so both backends see the same inputs. */
export function seeded(size: number, seed: number): Float32Array {
  const values = new Float32Array(size);
  let state = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 31 - 1;
  }
  return values;
}

export function seededTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

/** Runs `compute` on a backend (inside tidy) and reads its results back. */
export function runOn(backend: 'onednn' | 'cpu', compute: () => tf.Tensor | tf.Tensor[]): Float32Array[] {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    const outputs = tf.tidy(compute);
    const list = Array.isArray(outputs) ? outputs : [outputs];
    const values = list.map((t) => t.dataSync() as Float32Array);
    tf.dispose(list);
    return values;
  } finally {
    tf.setBackend(previous);
  }
}

export function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
  tolerance = TOLERANCE,
) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert.ok(Number.isFinite(maxDiff), `${label}: non-finite values`);
  const relative = maxDiff / Math.max(scale, 1e-12);
  assert.ok(relative <= tolerance, `${label}: relative error ${relative.toExponential(2)} > ${tolerance}`);
}

/**
 * ||actual - expected||₂ / ||expected||₂ ≤ tolerance: for whole-network gradients, where a max pool whose
 * two largest inputs differ only by float rounding may route one position's gradient differently on each
 * backend (a legitimate argmax flip that moves a few elements, not the tensor).
 */
export function assertCloseL2(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
  tolerance = TOLERANCE,
) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  const relative = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
  assert.ok(relative <= tolerance, `${label}: relative L2 error ${relative.toExponential(2)} > ${tolerance}`);
}

/** Same computation on both backends, every output compared. */
export function assertSameOnBackends(label: string, compute: () => tf.Tensor | tf.Tensor[]): void {
  const expected = runOn('cpu', compute);
  const actual = runOn('onednn', compute);
  assert.equal(actual.length, expected.length);
  actual.forEach((values, i) => {
    assertClose(values, expected[i], `${label} output ${i}`);
  });
}

/** Counts calls to an addon function while `body` runs, to prove the native path (not the fallback) ran. */
export function countNativeCalls(name: string, body: () => void): number {
  const native = (
    tf.findBackend('onednn') as unknown as { native: Record<string, (...a: unknown[]) => unknown> }
  ).native;
  const original = native[name];
  let calls = 0;
  native[name] = (...args: unknown[]) => {
    calls++;
    return original(...args);
  };
  try {
    body();
  } finally {
    native[name] = original;
  }
  return calls;
}

/**
 * The weights of a small model after two epochs of SGD (lr 0.1, MSE, 3 seeded samples) on `backend`: input
 * of `inputShape` → `body` → global average pooling → dense(4), its weights set from seeded values by
 * `init`. Layer tests train it on `onednn` and `cpu` and compare the weights.
 */
export async function weightsAfterTraining(
  backend: 'onednn' | 'cpu',
  inputShape: number[],
  body: (input: tf.SymbolicTensor) => tf.SymbolicTensor,
  init: (seeded: tf.Tensor) => tf.Tensor,
): Promise<Float32Array[]> {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    const input = tf.input({ shape: inputShape });
    const pooled = tf.layers.globalAveragePooling2d({}).apply(body(input)) as tf.SymbolicTensor;
    const model = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 4 }).apply(pooled) as tf.SymbolicTensor,
    });
    model.setWeights(model.getWeights().map((w, i) => init(seededTensor(w.shape, 10 + i))));
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    await model.fit(seededTensor([3, ...inputShape], 5), seededTensor([3, 4], 6), {
      epochs: 2,
      batchSize: 3,
      verbose: 0,
    });
    return model.getWeights().map((w) => w.dataSync() as Float32Array);
  } finally {
    tf.setBackend(previous);
  }
}
