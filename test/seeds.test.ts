// Seeded builders and the seeded Dropout layer: same seed, same weights and masks; another seed, others.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../src/index';
import { Dropout, dropout } from '../src/layers/dropout';
import { googlenetPaper } from '../src/models/googlenet_paper';
import { inceptionModule } from '../src/models/inception_module';
import { buildModel, MODEL_BUILDERS } from '../src/models/registry';

const SMALL = { inputShape: [32, 32, 3] as [number, number, number], widthMultiplier: 0.1, numClasses: 4 };

/** Every weight of a model, in order, as plain arrays. */
function weightValues(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

/** Builders whose stride-2 stages need more than SMALL's 32x32 (Keras's InceptionV3: 75). */
const MIN_INPUT: Record<string, [number, number, number]> = { 'inception-v3': [75, 75, 3] };

function build(name: string, seed?: number, extra: object = {}): tf.LayersModel {
  return buildModel(name, { ...SMALL, inputShape: MIN_INPUT[name] ?? SMALL.inputShape, ...extra, seed });
}

for (const name of Object.keys(MODEL_BUILDERS)) {
  test(`${name}: the same seed builds the same weights, another seed and no seed build others`, () => {
    const a = build(name, 7);
    const b = build(name, 7);
    const c = build(name, 8);
    const unseeded = build(name);
    assert.deepEqual(weightValues(a), weightValues(b));
    assert.notDeepEqual(weightValues(a), weightValues(c));
    assert.notDeepEqual(weightValues(a), weightValues(unseeded));
    // Seeding changes values only: same layers, names and parameter count as an unseeded build.
    assert.deepEqual(
      a.layers.map((l) => l.name),
      unseeded.layers.map((l) => l.name),
    );
    assert.equal(a.countParams(), unseeded.countParams());
    for (const m of [a, b, c, unseeded]) m.dispose();
  });
}

test('each layer of a seeded build draws its own values (no two kernels of one shape are equal)', () => {
  const model = googlenetPaper({ ...SMALL, seed: 3, auxClassifiers: true });
  const kernels = model.weights.filter((w) => w.name.endsWith('kernel'));
  const seen = new Map<string, string>();
  for (const k of kernels) {
    const key = `${k.shape}:${Array.from(k.read().dataSync().slice(0, 16))}`;
    assert.ok(!seen.has(key), `${k.name} repeats ${seen.get(key)}`);
    seen.set(key, k.name);
  }
  // Dropout layers (main head and both auxiliary heads) carry distinct seeds too.
  const seeds = model.layers.filter((l) => l instanceof Dropout).map((l) => l.getConfig().seed);
  assert.equal(seeds.length, 3);
  assert.equal(new Set(seeds).size, 3);
  model.dispose();
});

test('bad seeds are refused with the value echoed, by every builder and by inceptionModule', () => {
  for (const name of Object.keys(MODEL_BUILDERS)) {
    for (const [bad, shown] of [
      [-1, '-1'],
      [1.5, '1.5'],
      [2 ** 32, '4294967296'],
      [Number.NaN, 'NaN'],
      ['3', '"3"'],
    ] as const) {
      assert.throws(
        () => build(name, bad as number),
        new RegExp(`^Error: ${name}: seed must be an integer in \\[0, 4294967295\\], got ${shown}$`),
      );
    }
  }
  const x = tf.input({ shape: [8, 8, 4] });
  const filters = {
    filters1x1: 2,
    filters3x3Reduce: 2,
    filters3x3: 2,
    filters5x5Reduce: 2,
    filters5x5: 2,
    filtersPoolReduce: 2,
  };
  assert.throws(() => inceptionModule(x, filters, 'm', undefined, -3), /inceptionModule\(m\): seed.*got -3/);
});

test('inceptionModule with a seed: reproducible weights, different per convolution', () => {
  const build = (seed: number) => {
    const x = tf.input({ shape: [8, 8, 4] });
    const filters = {
      filters1x1: 3,
      filters3x3Reduce: 3,
      filters3x3: 3,
      filters5x5Reduce: 3,
      filters5x5: 3,
      filtersPoolReduce: 3,
    };
    return tf.model({ inputs: x, outputs: inceptionModule(x, filters, 'mixed', undefined, seed) });
  };
  const [a, b, c] = [build(5), build(5), build(6)];
  assert.deepEqual(weightValues(a), weightValues(b));
  assert.notDeepEqual(weightValues(a), weightValues(c));
  const kernel = (name: string) => Array.from(a.getLayer(name).getWeights()[0].dataSync());
  assert.notDeepEqual(kernel('mixed_1x1'), kernel('mixed_3x3_reduce'), 'same shape, own values');
  for (const m of [a, b, c]) m.dispose();
});

test('seeded Dropout: a new mask every training call, the same sequence for the same seed', () => {
  const x = tf.ones([4, 64]);
  const masks = (seed: number | undefined, calls: number) => {
    const layer = dropout({ rate: 0.5, seed });
    return Array.from({ length: calls }, () =>
      tf.tidy(() => Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync())),
    );
  };
  const [first, second] = masks(9, 2);
  assert.notDeepEqual(first, second, 'tfjs would repeat the seeded mask; this layer must not');
  assert.deepEqual(masks(9, 2), [first, second]);
  assert.notDeepEqual(masks(10, 1)[0], first);
  const kept = first.filter((v) => v !== 0);
  assert.ok(
    kept.every((v) => v === 2),
    'kept units are scaled by 1 / (1 - rate)',
  );
  assert.ok(kept.length > 64 && kept.length < 192, `${kept.length} of 256 kept`);
  // Outside training it passes the input through.
  const layer = dropout({ rate: 0.5, seed: 9 });
  assert.deepEqual(Array.from((layer.apply(x) as tf.Tensor).dataSync()), Array(256).fill(1));
  x.dispose();
});

test('seeded Dropout saves and loads as a plain tfjs Dropout, seed and all', async () => {
  const input = tf.input({ shape: [6] });
  const model = tf.model({
    inputs: input,
    outputs: dropout({ rate: 0.3, seed: 42, name: 'drop' }).apply(input) as tf.SymbolicTensor,
  });
  const json = model.toJSON(undefined, false) as unknown as {
    config: { layers: { class_name: string; config: { seed: number } }[] };
  };
  const layer = json.config.layers.find((l) => l.class_name === 'Dropout');
  assert.equal(layer?.config.seed, 42);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
  assert.ok(loaded.getLayer('drop') instanceof Dropout, 'models loaded here get the seeded layer');
  model.dispose();
  loaded.dispose();
});
