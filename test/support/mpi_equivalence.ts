// Run under `mpirun -np 2` by test/distributed_mpi.test.ts: N data-parallel steps of a narrow GoogLeNet at
// 32x32 (dropout 0, fused SGD with momentum), each rank starting from its OWN random weights, then rank 0
// compares: the two ranks' weights bit for bit, and its weights with one process's from the same start.
//   plain: BN-free googlenet, global batch 5 (3 + 2 samples: unequal parts), reference = one process's
//          trainOnBatch on the whole global batch.
//   bn:    googlenet-bn, global batch 8 (4 + 4), reference = one process accumulating the two micro-batches:
//          each micro-batch's gradient taken on the same weights with its own batch statistics, the update
//          made with their mean, and the moving statistics set to the mean of those each micro-batch alone
//          would leave (syncBatchNormStats's average, which commutes with the moving averages).
// Prints one JSON line on rank 0: {maxRelative, identical, ...}.

import { initCollective } from '../../src/distributed/collective';
import { epochPermutation, rankBatch } from '../../src/distributed/shards';
import type * as Inception from '../../src/index';

const mode = process.argv[2] === 'bn' ? 'bn' : 'plain';
const STEPS = 3;
const GLOBAL_BATCH = mode === 'bn' ? 8 : 5;
const SAMPLES = GLOBAL_BATCH * STEPS;
const SIZE = 32;
const CLASSES = 4;

async function main(): Promise<void> {
  const collective = initCollective({ timeoutSeconds: 60 });
  // The package (and so the engine) loads after the collective has sized its threads.
  const inception = require('../../src/index') as typeof Inception;
  const { tf } = inception;
  await inception.backendReady;
  const build = (seed: number) => {
    const args = {
      inputShape: [SIZE, SIZE, 3] as [number, number, number],
      numClasses: CLASSES,
      widthMultiplier: 0.1,
      dropout: 0,
      seed,
    };
    const model = mode === 'bn' ? inception.googlenetBN(args) : inception.googlenet(args);
    model.compile({ optimizer: inception.createOptimizer('sgd', 0.05), loss: 'categoricalCrossentropy' });
    return model;
  };
  const images = tf.randomUniform([SAMPLES, SIZE, SIZE, 3], 0, 1, 'float32', 7);
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: SAMPLES }, (_, i) => (i * 7) % CLASSES),
      'int32',
    ),
    CLASSES,
  );
  const order = epochPermutation(SAMPLES, 11, 0);
  const pick = (indices: number[]) => {
    const at = tf.tensor1d(indices, 'int32');
    const picked = [tf.gather(images, at), tf.gather(labels, at)];
    at.dispose();
    return picked;
  };

  // Data parallel: rank r starts from seed 100 + r; the broadcast must make rank 0's start everyone's.
  const model = build(100 + collective.rank);
  const parallel = await inception.DataParallel.create(model, collective, { extraSums: 1 });
  const extras: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    collective.step = `step ${step}`;
    const [xs, ys] = pick(rankBatch(order, GLOBAL_BATCH, step, collective.rank, collective.size));
    // Rank 1 raises a flag at step 1 (as a stop request would): every rank must see it in that step.
    if (collective.rank === 1 && step === 1) parallel.stepExtras[0] = 1;
    await model.trainOnBatch(xs, ys);
    extras.push(...(parallel.lastStep?.extras ?? []));
    tf.dispose([xs, ys]);
  }
  if (mode === 'bn') await parallel.syncBatchNormStats();
  const mine = flatWeights(tf, model);
  // Rank 1's weights to rank 0, bit for bit.
  const theirs = new Float32Array(mine.length);
  if (collective.rank === 1) theirs.set(mine);
  await collective.broadcast(theirs, 1);
  if (collective.rank !== 0) {
    collective.finalize();
    return;
  }
  const identical = Buffer.compare(Buffer.from(mine.buffer), Buffer.from(theirs.buffer)) === 0;

  // One process from rank 0's start.
  const reference = build(100);
  for (let step = 0; step < STEPS; step++) {
    if (mode === 'plain') {
      const [xs, ys] = pick(rankBatch(order, GLOBAL_BATCH, step, 0, 1));
      await reference.trainOnBatch(xs, ys);
      tf.dispose([xs, ys]);
    } else {
      accumulateMicroBatches(
        inception,
        reference,
        [0, 1].map((r) => pick(rankBatch(order, GLOBAL_BATCH, step, r, 2))),
      );
    }
  }
  const expected = flatWeights(tf, reference);
  let maxRelative = 0;
  let offset = 0;
  for (const w of reference.weights) {
    const size = w.read().size;
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = offset; i < offset + size; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
      maxDiff = Math.max(maxDiff, Math.abs(expected[i] - mine[i]));
    }
    if (maxAbs > 0) maxRelative = Math.max(maxRelative, maxDiff / maxAbs);
    offset += size;
  }
  // The weights moved: a comparison of two untrained models would prove nothing.
  const start = flatWeights(tf, build(100));
  let moved = 0;
  for (let i = 0; i < start.length; i++) moved = Math.max(moved, Math.abs(start[i] - expected[i]));
  console.log(
    JSON.stringify({
      mode,
      ranks: collective.size,
      identical,
      maxRelative,
      moved,
      extras,
      weights: mine.length,
    }),
  );
  collective.finalize();
}

function flatWeights(tf: typeof Inception.tf, model: Inception.tf.LayersModel): Float32Array {
  const parts = model.weights.map((w) => w.read().dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  void tf;
  return out;
}

/** One step of one process over micro-batches, as the header describes. */
function accumulateMicroBatches(
  inception: typeof Inception,
  model: Inception.tf.LayersModel,
  microBatches: Inception.tf.Tensor[][],
): void {
  const { tf } = inception;
  const stats = inception.batchNormStatistics(model);
  const start = stats.map((v) => v.read().clone());
  const variables = model.trainableWeights.map((w) => w.read() as Inception.tf.Variable);
  const sums = new Map<string, Inception.tf.Tensor>();
  const movedStats: Inception.tf.Tensor[][] = [];
  for (const [xs, ys] of microBatches) {
    stats.forEach((v, i) => {
      v.write(start[i]);
    });
    const { grads } = tf.variableGrads(() => {
      const predicted = model.apply(xs, { training: true }) as Inception.tf.Tensor;
      return tf.mean(tf.metrics.categoricalCrossentropy(ys, predicted)) as Inception.tf.Scalar;
    }, variables);
    for (const [name, g] of Object.entries(grads)) {
      const previous = sums.get(name);
      sums.set(name, previous ? tf.add(previous, g) : g.clone());
      previous?.dispose();
    }
    tf.dispose(Object.values(grads));
    movedStats.push(stats.map((v) => v.read().clone()));
    tf.dispose([xs, ys]);
  }
  stats.forEach((v, i) => {
    const mean = tf.div(tf.add(movedStats[0][i], movedStats[1][i]), 2);
    v.write(mean);
    mean.dispose();
  });
  const gradients = variables.map((v) => ({
    name: v.name,
    tensor: tf.div(sums.get(v.name) as Inception.tf.Tensor, 2),
  }));
  model.optimizer.applyGradients(gradients);
  tf.dispose([...gradients.map((g) => g.tensor), ...sums.values(), ...start, ...movedStats.flat()]);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
