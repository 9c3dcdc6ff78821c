// Where a GoogLeNet training step spends its time, kernel by kernel (tf.profile), and the plain ms per step.
// Not a benchmark of record (that is `inception bench`): a tool for deciding which kernels to make native.
//   node dist/bench/profile_training_step.js [size=32] [batch=32] [steps=3] [optimizer=adam] [width=1]
// optimizer: adam, rmsprop, sgd (the fused ones) or tfjs-adam (tfjs's own).
import { backendReady, googlenet, tf } from '../src/index';
import {
  FusedAdamOptimizer,
  FusedMomentumOptimizer,
  FusedRMSPropOptimizer,
} from '../src/training/fused_optimizers';

async function main(): Promise<void> {
  const [size = 32, batch = 32, steps = 3] = process.argv.slice(2, 5).map(Number);
  const optimizerName = process.argv[5] ?? 'adam';
  const width = Number(process.argv[6] ?? 1);
  const backend = await backendReady;
  const model = googlenet({ inputShape: [size, size, 3], numClasses: 10, widthMultiplier: width });
  const optimizers: Record<string, () => tf.Optimizer> = {
    adam: () => new FusedAdamOptimizer(1e-3, 0.9, 0.999, 1e-7),
    rmsprop: () => new FusedRMSPropOptimizer(1e-3, 0.9, 0, 1e-7),
    sgd: () => new FusedMomentumOptimizer(1e-2, 0.9),
    'tfjs-adam': () => tf.train.adam(1e-3, 0.9, 0.999, 1e-7),
  };
  model.compile({ optimizer: optimizers[optimizerName](), loss: 'categoricalCrossentropy' });
  const x = tf.randomUniform([batch, size, size, 3]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  await model.trainOnBatch(x, y); // warm-up: creates optimizer state, primitives, caches
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    await model.trainOnBatch(x, y);
    times.push(performance.now() - start);
  }
  console.log(`step times: ${times.map((t) => t.toFixed(0)).join(' ')} ms`);
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const profile = await tf.profile(async () => {
    await model.trainOnBatch(x, y);
    return [];
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += k.kernelTimeMs as number;
    entry.calls++;
    byKernel.set(k.name, entry);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(
    `${backend} googlenet w${width} ${size}x${size} batch ${batch} ${optimizerName}: median ${median.toFixed(0)} ms/step ` +
      `(${(median / batch).toFixed(2)} ms/image) over ${steps}; profiled kernels total ${total.toFixed(0)} ms, ` +
      `${profile.kernels.length} calls, numTensors ${tf.memory().numTensors}`,
  );
  for (const [name, e] of rows.slice(0, 30)) {
    console.log(
      `  ${name.padEnd(24)} ${e.ms.toFixed(1).padStart(9)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${String(e.calls).padStart(5)} calls`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
