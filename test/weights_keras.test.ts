// inception-v3 against Keras applications' InceptionV3, and loadKerasInceptionV3Weights on files in Keras's
// legacy HDF5 layout. The reference (layer list, outputs) was made by real Keras 3 + TensorFlow with
//   /work/venv-keras/bin/python test/support/keras_inception_v3_reference.py
// (versions inside the JSON); the .h5 files are written here, at test time, by the same deterministic
// script it used (test/support/keras_inception_v3_h5.py, with /usr/bin/python3 + h5py), so no TensorFlow runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { googlenet, tf } from '../src/index';
import { inceptionV3 } from '../src/models/inception_v3';
import { loadKerasInceptionV3Weights } from '../src/weights/keras_inception_v3';
import { removeDir, tempDir } from './data_fixtures';
import { maxAbsDiff } from './support/onnx_runtime';

const ROOT = path.join(__dirname, '..', '..');
const REFERENCE_FILE = path.join(ROOT, 'test', 'fixtures', 'keras_inception_v3_reference.json');
const WRITER = path.join(ROOT, 'test', 'support', 'keras_inception_v3_h5.py');
const PYTHON = '/usr/bin/python3';
const TOLERANCE = 1e-4;

interface Reference {
  seed: number;
  versions: Record<string, string>;
  keras_layers: [string, string, number[][]][];
  outputs: Record<'top' | 'notop', { input_shape: [number, number, number, number]; output: number[][] }>;
}
const reference: Reference = JSON.parse(fs.readFileSync(REFERENCE_FILE, 'utf8'));

/** Why the .h5 fixtures cannot be written here, or null. */
function writerUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import h5py, numpy'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not runnable (${r.error.message})`;
  return r.status === 0 ? null : `${PYTHON} lacks h5py/numpy (apt install python3-h5py)`;
}
const skipReason = writerUnavailable();
if (skipReason) console.log(`# weights_keras: .h5 tests skipped: ${skipReason}`);
const needsH5 = { skip: skipReason ?? false };

let dir = '';
const files: Record<string, string> = {};

/** Writes one fixture file with the reference's layer list; `args` are keras_inception_v3_h5.py's flags. */
function writeH5(name: string, args: string[]): string {
  const file = path.join(dir, name);
  const r = spawnSync(PYTHON, [WRITER, REFERENCE_FILE, file, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${WRITER} ${args.join(' ')}: ${r.stderr}`);
  return file;
}

before(async () => {
  dir = await tempDir();
  if (skipReason) return;
  const seed = String(reference.seed);
  files.top = writeH5('inception_v3_weights_tf_dim_ordering_tf_kernels.h5', ['--seed', seed]);
  files.notop = writeH5('inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5', [
    '--seed',
    seed,
    '--notop',
  ]);
});

after(() => removeDir(dir));

/** The reference's deterministic images (the formula in keras_inception_v3_reference.py), float32 NHWC. */
function images([n, height, width, channels]: [number, number, number, number]): tf.Tensor4D {
  const data = new Float32Array(n * height * width * channels);
  let i = 0;
  for (let b = 0; b < n; b++)
    for (let h = 0; h < height; h++)
      for (let w = 0; w < width; w++)
        for (let c = 0; c < channels; c++) {
          data[i++] =
            Math.sin(0.05 * (h + 1) * (c + 1) + 0.07 * w + 1.7 * b) *
            Math.cos(0.031 * w * (b + 1) - 0.013 * h + 0.5 * c);
        }
  return tf.tensor4d(data, [n, height, width, channels]);
}

/** Largest |model(images) - Keras's output| for one of the reference's cases. */
function diffFromKeras(model: tf.LayersModel, kind: 'top' | 'notop'): number {
  const { input_shape, output } = reference.outputs[kind];
  const x = images(input_shape);
  const y = model.predict(x) as tf.Tensor;
  assert.deepEqual(y.shape, [output.length, output[0].length]);
  const got = y.dataSync();
  assert.ok(got.every(Number.isFinite), 'outputs are finite');
  const diff = maxAbsDiff(got, output.flat());
  tf.dispose([x, y]);
  return diff;
}

/** A copy of a weight's values. */
const values = (v: tf.LayerVariable) => (v.read().dataSync() as Float32Array).slice();
/** Whether every weight of `model` still holds `saved` (copies taken by `values`). */
const unchanged = (model: tf.LayersModel, saved: Float32Array[]) =>
  model.weights.every((w, i) => same(values(w), saved[i]));
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

/** Loads `file` into `model`, collecting what the loader says. */
async function load(model: tf.LayersModel, file: string): Promise<string[]> {
  const said: string[] = [];
  await loadKerasInceptionV3Weights(model, file, { print: (line) => said.push(line) });
  return said;
}

test("inception-v3: Keras's parameter counts, and its layers in Keras's order with Keras's names and shapes", () => {
  const top = inceptionV3();
  assert.equal(top.countParams(), 23_851_784);
  // Keras: 34,432 non-trainable (the BN layers' moving mean and variance).
  const nonTrainable = top.nonTrainableWeights.reduce(
    (n, w) => n + tf.util.sizeFromShape(w.shape as number[]),
    0,
  );
  assert.equal(nonTrainable, 34_432);
  const notop = inceptionV3({ includeTop: false });
  assert.equal(notop.countParams(), 21_802_784);
  assert.deepEqual(notop.outputs[0].shape, [null, 8, 8, 2048]);
  const ours = top.layers.map((l) => [l.name, l.getClassName(), l.weights.map((w) => w.shape)]);
  assert.deepEqual(ours, reference.keras_layers);
  // BN without gamma (Keras's scale=False): beta, then the moving statistics, as the .h5 lists them.
  assert.deepEqual(
    top.getLayer('batch_normalization').weights.map((w) => w.originalName.split('/').at(-1)),
    ['beta', 'moving_mean', 'moving_variance'],
  );
  const pooled = inceptionV3({ includeTop: false, pooling: 'max', inputShape: [75, 75, 3] });
  assert.deepEqual(pooled.outputs[0].shape, [null, 2048]);
  for (const m of [top, notop, pooled]) m.dispose();
});

test('inception-v3: bad options are refused with the value echoed', () => {
  assert.throws(
    () => inceptionV3({ inputShape: [74, 299, 3] }),
    /^Error: inception-v3: inputShape \[74,299,3\] is too small: .* at least 75/,
  );
  assert.throws(
    () => inceptionV3({ inputShape: [299, 299, 1] }),
    /^Error: inception-v3: .* must have 3 channels/,
  );
  assert.throws(
    () => inceptionV3({ pooling: 'mean' as 'avg' }),
    /^Error: inception-v3: pooling must be 'avg', 'max' or undefined, got "mean"$/,
  );
  assert.throws(() => inceptionV3({ dropout: 0.2 }), /^Error: inception-v3: dropout is not an option/);
});

test('the published top file: outputs equal Keras 3 on the same file within 1e-4', needsH5, async (t) => {
  const model = inceptionV3({ classifierActivation: 'linear' });
  assert.deepEqual(await load(model, files.top), [], 'a complete load says nothing');
  const diff = diffFromKeras(model, 'top');
  t.diagnostic(`max |tfjs - keras ${reference.versions.keras}| over 2x1000 logits: ${diff.toExponential(2)}`);
  assert.ok(diff < TOLERANCE, `max diff ${diff}`);
  model.dispose();
});

test(
  'the notop file into a model without top (pooling avg, 150x150): equal to Keras within 1e-4',
  needsH5,
  async (t) => {
    const model = inceptionV3({ includeTop: false, pooling: 'avg', inputShape: [150, 150, 3] });
    assert.deepEqual(await load(model, files.notop), []);
    const diff = diffFromKeras(model, 'notop');
    t.diagnostic(`max |tfjs - keras| over 2x2048 features: ${diff.toExponential(2)}`);
    assert.ok(diff < TOLERANCE, `max diff ${diff}`);
    model.dispose();
  },
);

test(
  'the top file into a model without top loads the body (same features as Keras) and says so',
  needsH5,
  async () => {
    const model = inceptionV3({ includeTop: false, pooling: 'avg', inputShape: [150, 150, 3] });
    const said = await load(model, files.top);
    assert.equal(said.length, 1);
    assert.match(
      said[0],
      /: loaded the body, 376 tensors; its top predictions not loaded: the model has none$/,
    );
    assert.ok(said[0].startsWith(files.top));
    const diff = diffFromKeras(model, 'notop');
    assert.ok(diff < TOLERANCE, `max diff ${diff}`);
    model.dispose();
  },
);

test(
  'a top of another class count, and the notop file into a model with top: body loaded, head left as built',
  needsH5,
  async () => {
    for (const [numClasses, file, message] of [
      [
        10,
        files.top,
        /its top predictions \(\[2048, 1000\], \[1000\]\) does not fit the model's predictions \(\[2048, 10\], \[10\]\), left as initialised$/,
      ],
      [1000, files.notop, /it has no top: the model's predictions left as initialised$/],
    ] as const) {
      const model = inceptionV3({ numClasses, seed: 5 });
      const head = model.getLayer('predictions').weights.map(values);
      const stem = values(model.getLayer('conv2d').weights[0]);
      const said = await load(model, file);
      assert.equal(said.length, 1);
      assert.match(said[0], message);
      const headNow = model.getLayer('predictions').weights.map(values);
      assert.ok(
        headNow.every((v, i) => same(v, head[i])),
        'the head is as built',
      );
      assert.ok(!same(values(model.getLayer('conv2d').weights[0]), stem), 'the body is loaded');
      model.dispose();
    }
  },
);

test('bad files: one line naming the file and the problem, the model left as it was', needsH5, async () => {
  const model = inceptionV3({ seed: 1 });
  const before = model.weights.map(values);
  const truncated = path.join(dir, 'truncated.h5');
  fs.writeFileSync(truncated, fs.readFileSync(files.top).subarray(0, 1 << 20));
  const text = path.join(dir, 'text.h5');
  fs.writeFileSync(text, 'not an HDF5 file\n');
  const notKeras = path.join(dir, 'plain.h5');
  const r = spawnSync(PYTHON, [
    '-c',
    'import h5py,sys; h5py.File(sys.argv[1], "w")["x"] = [1.0, 2.0]',
    notKeras,
  ]);
  assert.equal(r.status, 0, String(r.stderr));
  const other = writeH5('other.h5', ['--no-data', '--layers-only', '40']);
  const wrongShape = writeH5('wrong_shape.h5', ['--no-data', '--wrong-shape', 'conv2d_5']);
  // In a whole-model file's model_weights group: the layout is found there, the NaN refused.
  const nan = writeH5('nan.h5', ['--no-data', '--group', 'model_weights', '--nan', 'conv2d_5']);
  const cases: [string, RegExp][] = [
    [truncated, /: truncated: 1048576 of \d+ bytes$/],
    [text, /: not an HDF5 file$/],
    [path.join(dir, 'missing.h5'), /: no such file$/],
    [notKeras, /: not Keras HDF5 weights \(no layer_names attribute\)$/],
    [
      other,
      /: \d+ layers with weights, but the model's body has 188 \(189 with a top\): not weights for this model$/,
    ],
    [
      wrongShape,
      /: layer conv2d_6 \(the model's conv2d_5\): weight conv2d_6\/kernel:0 has shape \[1, 1, 192, 65\], the model's is \[1, 1, 192, 64\]$/,
    ],
    [nan, /: weight conv2d_6\/kernel:0: value NaN at index 0$/],
  ];
  for (const [file, message] of cases) {
    await assert.rejects(load(model, file), (error: Error) => {
      assert.ok(error.message.startsWith(`${file}: `), error.message);
      assert.doesNotMatch(error.message, /\n/);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.ok(unchanged(model, before), 'nothing was written');
  // Another architecture's model: the file's layers do not fit it.
  const small = googlenet({ inputShape: [32, 32, 3], widthMultiplier: 0.25 });
  await assert.rejects(
    load(small, files.notop),
    /: 188 layers with weights, but the model's body has 57 \(58 with a top\)/,
  );
  for (const m of [model, small]) m.dispose();
});
