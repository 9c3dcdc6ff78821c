import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CosineDecay, cosineDecayAt, type TrainingContext } from '../src/index';

test('cosineDecayAt: linear warm-up from a tenth of the peak, then half a cosine to alpha * peak', () => {
  const args = { peak: 0.1, warmupSteps: 10, decaySteps: 100 };
  assert.ok(Math.abs(cosineDecayAt(0, args) - 0.01) < 1e-12);
  assert.ok(Math.abs(cosineDecayAt(5, args) - 0.055) < 1e-12);
  assert.equal(cosineDecayAt(10, args), 0.1);
  assert.ok(Math.abs(cosineDecayAt(60, args) - 0.05) < 1e-12);
  assert.ok(cosineDecayAt(109, args) < 1e-4);
  assert.equal(cosineDecayAt(110, args), 0);
  assert.equal(cosineDecayAt(500, args), 0);
  assert.ok(Math.abs(cosineDecayAt(110, { ...args, alpha: 0.1 }) - 0.01) < 1e-12);
  assert.equal(cosineDecayAt(0, { peak: 1, decaySteps: 4 }), 1); // no warm-up
});

test('CosineDecay sets the learning rate before every step from the global step', () => {
  const set: number[] = [];
  let lr = 0;
  const ctx = {
    stepsPerEpoch: 3,
    getLearningRate: () => lr,
    setLearningRate: (v: number) => {
      lr = v;
      set.push(v);
    },
  } as unknown as TrainingContext;
  const schedule = new CosineDecay({ peak: 1, warmupSteps: 0, decaySteps: 6 });
  schedule.setContext(ctx);
  for (let epoch = 0; epoch < 2; epoch++) {
    schedule.onEpochBegin(epoch);
    for (let batch = 0; batch < 3; batch++) schedule.onBatchBegin(batch);
    const logs: Record<string, number> = {};
    schedule.onEpochEnd(epoch, logs);
    assert.equal(logs.lr, lr);
  }
  const want = [0, 1, 2, 3, 4, 5].map((s) => 0.5 * (1 + Math.cos((Math.PI * s) / 6)));
  set.forEach((v, i) => {
    assert.ok(Math.abs(v - want[i]) < 1e-12, `step ${i}: ${v} vs ${want[i]}`);
  });
  assert.throws(() => new CosineDecay({ peak: 0, decaySteps: 1 }), /peak must be a positive number, got 0/);
  assert.throws(() => new CosineDecay({ peak: 1, decaySteps: 0 }), /decaySteps must be >= 1, got 0/);
});
