// Mixed-precision (bf16 autocast) training: a small Inception network trained in bf16 ends within 1 point
// of the same run in fp32 on held-out data, and the engine is back in fp32 afterwards.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAddon } from '../src/backend/addon';
import { bf16Unavailable, computePrecision } from '../src/backend/precision';
import {
  compileClassifier,
  createOptimizer,
  inceptionModule,
  tensorSource,
  tf,
  trainModel,
} from '../src/index';
import { seededRandom } from '../src/random';
import { STATE_JSON } from '../src/training/checkpoint';
import { LAST_CHECKPOINT, trainImageClassifier } from '../src/training/train_classifier';
import { removeDir, tempDir } from './data_fixtures';
import { skipWithoutAddon } from './helpers/onednn';
import { colourFolder } from './training_fixtures';

const addon = loadAddon();
const skip = skipWithoutAddon || (addon && bf16Unavailable(addon.cpuIsa)) || false;
if (skip) console.log(`# skipping bf16 training: ${skip}`);

const SIZE = 16;
const CLASSES = 4;
/**
 * Sized so that both runs end near the plateau the noise allows (~98%), where two correct trainings agree:
 * mid-learning, fp32 and bf16 (like two seeds) differ by several points, and with 512 images each they
 * ended 1.2 points apart at a harder noise level; with these they were 0.5-0.6 apart at two noise levels.
 */
const TRAIN_IMAGES = 1024;
const HELD_OUT_IMAGES = 2048;
const NOISE = 2;
const EPOCHS = 5;
const BATCH = 64;

/**
 * Stripes of one of four orientations (the class) at a random period, phase and colour, in heavy noise: the
 * class is in the spatial pattern only, so the convolutions have to learn it, and the noise keeps the
 * held-out accuracy off 100% for a few epochs.
 */
function stripes(count: number, seed: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const random = seededRandom(seed);
  const pixels = new Float32Array(count * SIZE * SIZE * 3);
  const labels: number[] = [];
  const directions = [
    [0, 1],
    [1, 0],
    [Math.SQRT1_2, Math.SQRT1_2],
    [Math.SQRT1_2, -Math.SQRT1_2],
  ];
  for (let n = 0; n < count; n++) {
    const label = n % CLASSES;
    labels.push(label);
    const [dx, dy] = directions[label];
    const period = 3 + 3 * random();
    const phase = 2 * Math.PI * random();
    const colour = [0, 1, 2].map(() => 0.3 + 0.7 * random());
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const wave = 0.5 + 0.5 * Math.sin((2 * Math.PI * (x * dx + y * dy)) / period + phase);
        for (let c = 0; c < 3; c++) {
          pixels[((n * SIZE + y) * SIZE + x) * 3 + c] = colour[c] * wave + NOISE * (random() - 0.5);
        }
      }
    }
  }
  return {
    xs: tf.tensor4d(pixels, [count, SIZE, SIZE, 3]),
    ys: tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES) as tf.Tensor2D,
  };
}

/** Stem convolution, two Inception modules (1x1 convolutions run as matmuls), global pooling, dense head. */
function smallInception(): tf.LayersModel {
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  let x = tf.layers
    .conv2d({
      filters: 16,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  const filters = {
    filters1x1: 8,
    filters3x3Reduce: 8,
    filters3x3: 12,
    filters5x5Reduce: 4,
    filters5x5: 6,
    filtersPoolReduce: 6,
  };
  x = inceptionModule(x, filters, 'a', undefined, 2);
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = inceptionModule(x, filters, 'b', undefined, 3);
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({
      units: CLASSES,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

async function trainAndTest(
  precision: 'fp32' | 'bf16',
  train: ReturnType<typeof stripes>,
  held: ReturnType<typeof stripes>,
) {
  const model = smallInception();
  compileClassifier(model, createOptimizer('adam', 3e-3));
  const seen = new Set<string>();
  await trainModel(model, tensorSource(train.xs, train.ys, { batchSize: BATCH, seed: 7 }), {
    epochs: EPOCHS,
    precision,
    callbacks: [{ name: 'precision', onBatchEnd: async () => void seen.add(computePrecision()) }],
  });
  const accuracy = tf.tidy(() => {
    const predicted = (model.predict(held.xs) as tf.Tensor).argMax(-1);
    return predicted.equal(held.ys.argMax(-1)).mean().dataSync()[0];
  });
  const weights = model.getWeights().map((w) => w.dataSync().slice());
  model.optimizer.dispose();
  model.dispose();
  return { accuracy, weights, seen: [...seen] };
}

describe('bf16 mixed-precision training', { skip }, () => {
  test('ends within 1 point of fp32 on held-out data, and leaves the engine in fp32', async () => {
    tf.setBackend('onednn');
    const train = stripes(TRAIN_IMAGES, 1);
    const held = stripes(HELD_OUT_IMAGES, 2);
    const started = Date.now();
    const fp32 = await trainAndTest('fp32', train, held);
    const bf16 = await trainAndTest('bf16', train, held);
    console.log(
      `# fp32 ${(100 * fp32.accuracy).toFixed(2)}%, bf16 ${(100 * bf16.accuracy).toFixed(2)}% in ${Date.now() - started} ms`,
    );
    tf.dispose([train.xs, train.ys, held.xs, held.ys]);
    assert.deepEqual(bf16.seen, ['bf16']);
    assert.deepEqual(fp32.seen, ['fp32']);
    assert.equal(computePrecision(), 'fp32');
    assert.notDeepEqual(bf16.weights, fp32.weights, 'bf16 training computed exactly what fp32 did');
    assert.ok(fp32.accuracy > 0.7, `fp32 learned too little to compare (${fp32.accuracy})`);
    assert.ok(
      Math.abs(bf16.accuracy - fp32.accuracy) <= 0.01,
      `bf16 ${bf16.accuracy} vs fp32 ${fp32.accuracy}`,
    );
  });

  describe('trainImageClassifier', () => {
    let dir: string;
    before(async () => {
      dir = await tempDir();
      await colourFolder(path.join(dir, 'data'), 2);
    });
    after(async () => removeDir(dir));

    test('records the precision in the checkpoint; resume keeps it unless given; fp32 after each run', async () => {
      tf.setBackend('onednn');
      const out = path.join(dir, 'run');
      const options = {
        data: path.join(dir, 'data'),
        out,
        model: 'googlenet-cifar',
        modelArgs: { widthMultiplier: 0.05, inputShape: [32, 32, 3] as [number, number, number], dropout: 0 },
        valSplit: 0,
        batchSize: 6,
        augmentation: false as const,
      };
      const first = await trainImageClassifier({ ...options, epochs: 1, precision: 'bf16' });
      assert.equal(first.options.precision, 'bf16');
      assert.equal(computePrecision(), 'fp32');
      const state = JSON.parse(await fs.readFile(path.join(out, LAST_CHECKPOINT, STATE_JSON), 'utf8'));
      assert.equal(
        JSON.stringify(state).includes('"precision":"bf16"'),
        true,
        'checkpoint without the precision',
      );
      const resumed = await trainImageClassifier({ ...options, epochs: 2 }, { resume: true });
      assert.equal(resumed.options.precision, 'bf16');
      assert.equal(computePrecision(), 'fp32');
      const inFp32 = await trainImageClassifier(
        { ...options, epochs: 3, precision: 'fp32' },
        { resume: true },
      );
      assert.equal(inFp32.options.precision, 'fp32');
    });
  });
});
