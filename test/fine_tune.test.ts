// Fine-tuning (the Keras transfer-learning recipe) through trainImageClassifier: what stays frozen, what
// trains, batch normalisation in inference mode, and --resume across the unfreeze.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadModelFolder, saveModelFolder } from '../src/io/model_folder';
import { batchNormalization } from '../src/layers/batch_normalization';
import { buildModel } from '../src/models/registry';
import type { Callback } from '../src/training/callback';
import { FineTuneOptionError, freezeBase, unfreezeStart } from '../src/training/fine_tune';
import { type TrainClassifierOptions, trainImageClassifier } from '../src/training/train_classifier';
import { removeDir, tempDir } from './data_fixtures';
import { skipWithoutAddon } from './helpers/onednn';
import { colourFolder } from './training_fixtures';
import { tinyModel } from './training_helpers';

/** The "pretrained" network: a narrow googlenet-cifar with the stem pool, two classes, seeded weights. */
const BASE_ARGS = {
  widthMultiplier: 0.05,
  stemPool: true,
  inputShape: [32, 32, 3] as [number, number, number],
};
const BASE_PREPROCESSING = {
  inputShape: [32, 32, 3] as [number, number, number],
  mean: [0.4, 0.45, 0.5],
  std: [0.2, 0.25, 0.3],
  resize: 'fill' as const,
};

let dir: string;
let data: string;
let base: string;

before(async () => {
  await tf.setBackend('cpu');
  dir = await tempDir();
  data = await colourFolder(path.join(dir, 'data'), 4);
  base = path.join(dir, 'base');
  const model = buildModel('googlenet-cifar', { ...BASE_ARGS, numClasses: 2, seed: 5 });
  // Moving statistics away from their 0/1 initial values, as a trained network's are, so that an update
  // shows; a slightly negative mean keeps most ReLUs open in inference mode, so every layer gets gradients.
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const [gamma, beta, mean, variance] = layer.getWeights();
    layer.setWeights([gamma, beta, tf.fill(mean.shape, -0.05), tf.fill(variance.shape, 0.5)]);
  }
  await saveModelFolder(base, model, {
    model: 'googlenet-cifar',
    widthMultiplier: BASE_ARGS.widthMultiplier,
    labels: ['a', 'b'],
    preprocessing: BASE_PREPROCESSING,
  });
  model.dispose();
});

after(async () => {
  await removeDir(dir);
});

/** Every weight of a model folder by name (`layer/weight`). */
async function weightsByName(folder: string): Promise<Map<string, Float32Array>> {
  const { model } = await loadModelFolder(folder);
  const out = new Map<string, Float32Array>();
  for (const layer of model.layers) {
    layer.weights.forEach((w, i) => {
      out.set(
        `${layer.name}/${w.originalName.split('/').pop()}`,
        layer.getWeights()[i].dataSync() as Float32Array,
      );
    });
  }
  model.dispose();
  return out;
}

const same = (a: Float32Array | undefined, b: Float32Array | undefined) =>
  a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);

function options(out: string, extra: Partial<TrainClassifierOptions> = {}): TrainClassifierOptions {
  return {
    data,
    out,
    weights: base,
    valSplit: 0,
    batchSize: 4,
    epochs: 2,
    augmentation: false,
    reduceLr: false,
    keep: 'last',
    seed: 1,
    ...extra,
  };
}

test('freeze base: the body (batch-norm moving statistics included) is exactly the weights; the new head trains', async () => {
  const out = path.join(dir, 'frozen');
  const result = await trainImageClassifier(options(out, { freeze: 'base' }));
  assert.deepEqual(result.labels, ['blue', 'green', 'red']);
  // The weights fix the architecture and the normalisation (not the data's statistics).
  assert.deepEqual(result.options.model, 'googlenet-cifar');
  assert.deepEqual(result.preprocessing, BASE_PREPROCESSING);
  const before = await weightsByName(base);
  const after = await weightsByName(out);
  let body = 0;
  for (const [name, values] of after) {
    if (name.startsWith('output/')) continue;
    assert.ok(same(values, before.get(name)), `${name} changed`);
    body++;
  }
  assert.ok(body > 200, `${body} body tensors compared`);
  // The head: three classes, initialised afresh (seeded) and then trained.
  const fresh = buildModel('googlenet-cifar', { ...BASE_ARGS, numClasses: 3, seed: 1 });
  const initial = fresh.getLayer('output').getWeights()[0].dataSync() as Float32Array;
  fresh.dispose();
  const trained = after.get('output/kernel');
  assert.equal(trained?.length, initial.length);
  assert.ok(!same(trained, initial), 'the head did not train');
});

test('without freeze the same run moves the moving statistics (the check above can fail)', async () => {
  const out = path.join(dir, 'unfrozen');
  await trainImageClassifier(options(out, { epochs: 1 }));
  const before = await weightsByName(base);
  const after = await weightsByName(out);
  const moved = [...after.keys()].filter(
    (k) => k.endsWith('moving_mean') && !same(after.get(k), before.get(k)),
  );
  assert.ok(moved.length > 0);
});

test("the weights' classifier is kept only for the same classes; the same count of other classes gets a new one", async () => {
  for (const [labels, fresh] of [
    [['blue', 'green', 'red'], false],
    [['cat', 'dog', 'frog'], true],
  ] as const) {
    const weights = path.join(dir, `base-${labels[0]}`);
    const model = buildModel('googlenet-cifar', { ...BASE_ARGS, numClasses: 3, seed: 5 });
    await saveModelFolder(weights, model, {
      model: 'googlenet-cifar',
      widthMultiplier: BASE_ARGS.widthMultiplier,
      labels: [...labels],
      preprocessing: BASE_PREPROCESSING,
    });
    model.dispose();
    const lines: string[] = [];
    await trainImageClassifier(
      options(path.join(dir, `head-${labels[0]}`), { weights, freeze: 'base', epochs: 1 }),
      {
        print: (l) => lines.push(l),
      },
    );
    assert.equal(
      lines.some((l) => /: set \d+ tensors$/.test(l)),
      true,
      lines.join('\n'),
    );
    assert.equal(
      lines.some((l) => /a new classifier for the data's 3 classes/.test(l)),
      fresh,
      lines.join('\n'),
    );
  }
});

/** Block 5b (unfrozen in the runs below) and what precedes it. */
const inBlock5b = (name: string) => name.startsWith('inception_5b');
const UNFREEZE = {
  freeze: 'base',
  unfreezeAt: 1,
  unfreezeFrom: 'inception_5b',
  fineTuneLearningRate: 1e-3,
  epochs: 3,
} as const;

test('unfreezeAt: from that epoch the blocks from unfreezeFrom train (BN in inference mode), earlier ones stay', async () => {
  const out = path.join(dir, 'unfreeze');
  const lines: string[] = [];
  await trainImageClassifier(options(out, UNFREEZE), { print: (l) => lines.push(l) });
  assert.ok(
    lines.some((l) => /^Epoch 2: unfreezing from inception_5b.*learning rate 0.001/.test(l)),
    lines.join('\n'),
  );
  const before = await weightsByName(base);
  const after = await weightsByName(out);
  const changed = (name: string) => !same(after.get(name), before.get(name));
  const names = [...after.keys()];
  for (const name of names) {
    if (name.endsWith('moving_mean') || name.endsWith('moving_variance')) {
      assert.ok(!changed(name), `${name}: inference-mode batch norm updated its statistics`);
    } else if (!inBlock5b(name) && !name.startsWith('output/')) {
      assert.ok(!changed(name), `${name} is before inception_5b but changed`);
    }
  }
  const kernels5b = names.filter((n) => inBlock5b(n) && n.endsWith('/kernel'));
  assert.ok(kernels5b.length >= 6);
  for (const name of kernels5b) assert.ok(changed(name), `${name} did not train after the unfreeze`);
  assert.ok(changed('inception_5b_1x1_bn/gamma'), 'an unfrozen BN trains its gamma');
});

/** Aborts at epoch `epoch` (0-based) after `batch` steps, or at that epoch's end when batch is 'end'. */
function abortAt(controller: AbortController, epoch: number, batch: number | 'end'): Callback {
  return {
    name: 'abort',
    onBatchEnd(step) {
      if (this.epoch === epoch && step === batch) controller.abort();
    },
    onEpochBegin(e) {
      this.epoch = e;
    },
    onEpochEnd(e) {
      if (e === epoch && batch === 'end') controller.abort();
    },
  } as Callback & { epoch?: number };
}

for (const [where, epoch, batch] of [
  ['mid-epoch after the unfreeze', 1, 1],
  ['at the unfreeze boundary', 0, 'end'],
] as const) {
  test(`resume across the unfreeze (${where}) ends where the uninterrupted run ends`, async () => {
    const reference = await weightsByName(path.join(dir, 'unfreeze'));
    const out = path.join(dir, `resume-${epoch}`);
    const controller = new AbortController();
    const first = await trainImageClassifier(options(out, UNFREEZE), {
      callbacks: [abortAt(controller, epoch, batch)],
      signal: controller.signal,
    });
    assert.equal(first.interrupted, true);
    const resumed = await trainImageClassifier({ data: '', out }, { resume: true });
    assert.equal(resumed.interrupted, false);
    const after = await weightsByName(out);
    // Within float32 noise: a restored Adam recomputes beta^t where the uninterrupted one multiplied t times.
    // Not unfreezing (or unfreezing more) on resume would differ by the 1e-3 steps of the fine-tuning rate.
    for (const [name, values] of reference) {
      const got = after.get(name) as Float32Array;
      const worst = values.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0);
      assert.ok(worst < 1e-5, `${name} differs by ${worst}`);
    }
  });
}

test('freezeBase refuses a model without a body; unfreezeStart names near layers for an unknown one', () => {
  const dense = tinyModel();
  assert.throws(
    () => freezeBase(dense),
    (e) => e instanceof FineTuneOptionError && /has no body to freeze/.test(e.message),
  );
  dense.dispose();
  const model = buildModel('googlenet-cifar', { ...BASE_ARGS, numClasses: 2, seed: 1 });
  assert.equal(model.layers[unfreezeStart(model)].name.startsWith('inception_5a'), true);
  assert.throws(
    () => unfreezeStart(model, 'inception_5c'),
    /no layer "inception_5c" in googlenet_cifar; near names: inception_5a, inception_5b/,
  );
  model.dispose();
});

for (const backend of ['cpu', 'onednn'] as const) {
  test(`a frozen BatchNormalization runs in inference mode in training (${backend})`, {
    skip: backend === 'onednn' && skipWithoutAddon,
  }, async () => {
    const previous = tf.getBackend();
    await tf.setBackend(backend);
    try {
      const bn = batchNormalization({ momentum: 0.5 });
      const x = tf.randomNormal([4, 3, 3, 5], 2, 3, 'float32', 7);
      bn.apply(x, { training: false });
      bn.setWeights([tf.fill([5], 1.5), tf.fill([5], 0.1), tf.fill([5], 0.3), tf.fill([5], 2)]);
      const stats = () =>
        bn
          .getWeights()
          .slice(2)
          .map((w) => Array.from(w.dataSync()));
      const inference = (bn.apply(x, { training: false }) as tf.Tensor).dataSync();
      bn.trainable = false;
      const frozen = (bn.apply(x, { training: true }) as tf.Tensor).dataSync();
      assert.deepEqual(Array.from(frozen), Array.from(inference));
      assert.deepEqual(stats(), [Array(5).fill(Math.fround(0.3)), Array(5).fill(2)]);
      bn.trainable = true;
      (bn.apply(x, { training: true }) as tf.Tensor).dataSync();
      assert.notDeepEqual(
        stats()[0],
        Array(5).fill(0.3),
        'a trainable BN in training mode updates its statistics',
      );
    } finally {
      await tf.setBackend(previous);
    }
  });
}

test('bad fine-tuning options fail before anything is written', async () => {
  const out = path.join(dir, 'never');
  const cases: [Partial<TrainClassifierOptions>, RegExp][] = [
    [{ weights: undefined, freeze: 'base' }, /freeze needs weights/],
    [{ unfreezeAt: 1 }, /unfreezeAt needs freeze/],
    [{ freeze: 'base', unfreezeAt: 2, epochs: 2 }, /unfreezeAt must be an integer in \[1, 1\]/],
    [{ unfreezeFrom: 'inception_5a' }, /unfreezeFrom needs unfreezeAt/],
    [{ weights: path.join(dir, 'missing') }, /missing: no such file or folder/],
    [{ weights: 'cifar10', model: 'googlenet' }, /weights "cifar10" are for googlenet-cifar, not googlenet/],
  ];
  for (const [extra, pattern] of cases) {
    await assert.rejects(trainImageClassifier(options(out, extra)), pattern);
  }
  await assert.rejects(
    trainImageClassifier(options(out, { freeze: 'base', unfreezeAt: 1, unfreezeFrom: 'nope' })),
    /no layer "nope"/,
  );
  const left = await fs.readdir(out).catch(() => []);
  assert.deepEqual(
    left.filter((n) => !n.startsWith('.')),
    [],
  );
});
