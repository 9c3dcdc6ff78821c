import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MicroBatcher } from '../src/serve/batcher';

/** A fake engine that blocks the thread for `msPerInput` per input, like tfjs inference does. */
function blockingEngine(msPerInput: number, sizes: number[]) {
  return async (inputs: number[]) => {
    sizes.push(inputs.length);
    const until = performance.now() + msPerInput * inputs.length;
    while (performance.now() < until) {
      // busy: inference holds the event loop
    }
    return inputs.map((x) => x * 10);
  };
}

test('concurrent submissions are batched up to maxBatch and each caller gets its own output', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher(blockingEngine(0.1, sizes), 4, 2, 1000);
  const outputs = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(i)));
  assert.deepEqual(outputs, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  assert.equal(sizes[0], 1, 'the first batch measures the engine');
  assert.ok(sizes.slice(1).every((n) => n <= 4));
  assert.ok(sizes.length < 10, `batch sizes ${sizes}`);
  await batcher.idle();
  assert.equal(batcher.busy, false);
});

test('a slow engine gets small batches so the event loop is free every ~targetBatchMs', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher(blockingEngine(30, sizes), 8, 0, 60);
  let ticks = 0;
  let worstGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
    ticks++;
  }, 1);
  await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.submit(i)));
  clearInterval(timer);
  assert.ok(
    sizes.every((n) => n <= 2),
    `batch sizes ${sizes}`,
  );
  assert.ok(ticks >= 5, `timers ran ${ticks} times during the queue`);
  assert.ok(worstGap < 150, `longest event-loop block ${worstGap.toFixed(0)} ms`);
});

test('an engine error rejects the callers of that batch only; the queue keeps going', async () => {
  let calls = 0;
  const batcher = new MicroBatcher(
    async (xs: number[]) => {
      calls++;
      if (xs.includes(3)) throw new Error('bad input 3');
      return xs;
    },
    1,
    0,
  );
  const results = await Promise.allSettled([1, 2, 3, 4].map((x) => batcher.submit(x)));
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal(calls, 4);
});

test('a lone input runs at once; inputs still on their way (incoming) join its batch', async () => {
  const sizes: number[] = [];
  let incoming = 0;
  const batcher = new MicroBatcher(blockingEngine(0.1, sizes), 8, 200, 1000, () => incoming);
  await batcher.submit(0); // measures the engine: later batches may take up to 8
  assert.ok(batcher.batchSize() > 1);
  const start = performance.now();
  assert.equal(await batcher.submit(1), 10);
  const lone = performance.now() - start;
  assert.ok(lone < 100, `a lone input waited ${lone.toFixed(1)} ms (the batch delay is 200 ms)`);
  // Three more inputs are being decoded: the first one waits for them and all four run as one batch.
  incoming = 3;
  const first = batcher.submit(2);
  setTimeout(() => {
    incoming = 0;
    void Promise.all([3, 4, 5].map((x) => batcher.submit(x)));
  }, 5);
  assert.equal(await first, 20);
  assert.deepEqual(sizes, [1, 1, 4]);
});

test('the inputs of one request, submitted in the same tick, run as one batch', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher(blockingEngine(0.1, sizes), 8, 200, 1000);
  await batcher.submit(0);
  assert.deepEqual(await Promise.all([1, 2, 3].map((x) => batcher.submit(x))), [10, 20, 30]);
  assert.deepEqual(sizes, [1, 3]);
});
