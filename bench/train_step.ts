// Developer tool: times (and optionally profiles, by tfjs kernel) GoogLeNet training steps on the selected
// backend. `node dist/bench/train_step.js --size 224 --batch 8 [--width 1] [--steps 3] [--profile] [--infer]
// [--optimizer adam|rmsprop|sgd|tfjs-adam] [--model NAME] [--precision fp32|bf16]` (the first three are the fused ones `train` uses, tfjs-adam is
// tfjs's own); INCEPTION_BACKEND picks the engine. Published speed claims come from `npm run bench`, not from this.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type ComputePrecision, setComputePrecision } from '../src/backend/precision';
import { backendReady, buildModel, createOptimizer, tf } from '../src/index';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '32' },
      batch: { type: 'string', default: '32' },
      width: { type: 'string', default: '1' },
      steps: { type: 'string', default: '3' },
      profile: { type: 'boolean', default: false },
      infer: { type: 'boolean', default: false },
      optimizer: { type: 'string', default: 'adam' },
      model: { type: 'string', default: 'googlenet' },
      'stem-pool': { type: 'boolean', default: false },
      precision: { type: 'string', default: 'fp32' },
    },
  });
  const backend = await backendReady;
  setComputePrecision(values.precision as ComputePrecision);
  const size = Number(values.size);
  const batch = Number(values.batch);
  const model = buildModel(values.model, {
    inputShape: [size, size, 3],
    widthMultiplier: Number(values.width),
    ...(values['stem-pool'] ? { stemPool: true } : {}),
  });
  const optimizer =
    values.optimizer === 'tfjs-adam'
      ? tf.train.adam(1e-3, 0.9, 0.999, 1e-7)
      : createOptimizer(values.optimizer, 1e-3);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([batch, size, size, 3]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32') as tf.Tensor1D, 10);
  const step = async () => {
    if (values.infer) tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
    else await model.trainOnBatch(x, y);
  };
  await step(); // warm-up: primitive creation, weight reorders
  const times: number[] = [];
  for (let i = 0; i < Number(values.steps); i++) {
    const start = performance.now();
    await step();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${backend} ${values.precision} ${values.model} ${values.infer ? 'inference' : `training step (${values.optimizer})`} ${size}x${size} batch ${batch} width ${values.width}: ` +
      `median ${median.toFixed(1)} ms (${(median / batch).toFixed(2)} ms/image) over ${times.length}; tensors ${tf.memory().numTensors}`,
  );
  if (values.profile) {
    const info = await tf.profile(step);
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      entry.ms += k.kernelTimeMs as number;
      entry.calls++;
      byKernel.set(k.name, entry);
    }
    const total = [...byKernel.values()].reduce((a, b) => a + b.ms, 0);
    console.log(`profile: ${total.toFixed(1)} ms in kernels`);
    for (const [name, { ms, calls }] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
      console.log(
        `  ${name.padEnd(24)} ${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${calls} calls`,
      );
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
