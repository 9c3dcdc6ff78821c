import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { exportOnnxBytes } from '../src/export/onnx';
import { type AttrValue, onnxAttribute } from '../src/export/onnx_graph';
import { backendReady, tf } from '../src/index';
import { ceilModeMaxPool, symmetricPadConvRelu } from '../src/models/explicit_padding';
import { googlenetPaper } from '../src/models/googlenet_paper';
import { layerSeeds } from '../src/models/layer_seeds';
import { seeded } from './helpers/onednn';
import { ort, ortMissing } from './support/optional_ort';

const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** A one-node ONNX model on an NCHW input `x` (with optional float initializers) → `y`. */
function oneNode(
  op: string,
  inputShape: number[],
  attrs: Record<string, AttrValue>,
  weights: { name: string; dims: number[]; values: Float32Array }[] = [],
  relu = false,
): Uint8Array {
  const node = (opType: string, input: string[], output: string, a: Record<string, AttrValue> = {}) => ({
    opType,
    input,
    output: [output],
    attribute: Object.entries(a).map(([k, v]) => onnxAttribute(k, v)),
  });
  const nodes = [node(op, ['x', ...weights.map((w) => w.name)], relu ? 'z' : 'y', attrs)];
  if (relu) nodes.push(node('Relu', ['z'], 'y'));
  return onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: op,
      node: nodes,
      initializer: weights.map((w) => ({
        name: w.name,
        dims: w.dims,
        dataType: FLOAT,
        rawData: new Uint8Array(w.values.buffer),
      })),
      input: [
        {
          name: 'x',
          type: { tensorType: { elemType: FLOAT, shape: { dim: inputShape.map((d) => ({ dimValue: d })) } } },
        },
      ],
      output: [{ name: 'y', type: { tensorType: { elemType: FLOAT } } }],
    },
  }).finish();
}

/** Runs `bytes` on an NHWC tensor (transposed to NCHW) and returns the NHWC result. */
async function runNchw(bytes: Uint8Array, x: tf.Tensor4D): Promise<tf.Tensor4D> {
  // Warning level off: ONNX shape inference lacks the dropped-last-window rule that the MaxPool kernel applies.
  const session = await ort!.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const out = (
      await session.run({ x: new ort!.Tensor('float32', nchw.dataSync() as Float32Array, nchw.shape) })
    ).y;
    nchw.dispose();
    const y = tf.tensor4d(out.data as Float32Array, out.dims as [number, number, number, number]);
    return tf.tidy(() => tf.transpose(y, [0, 2, 3, 1]));
  } finally {
    await session.release();
  }
}

/** The layer(s) `build` adds, as a model on [h, w, c] inputs. */
function probe(
  shape: [number, number, number],
  build: (x: tf.SymbolicTensor) => tf.SymbolicTensor,
): tf.LayersModel {
  const input = tf.input({ shape });
  return tf.model({ inputs: input, outputs: build(input) });
}

function assertClose(got: tf.Tensor, want: tf.Tensor, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
  assert.ok(diff < 1e-4, `${what}: max diff ${diff}`);
}

describe("Caffe's padding (googlenet-paper caffe: true) equals ONNX's explicit padding and ceil mode", () => {
  test('ceil-mode max pools on even, odd and mixed maps', { skip: ortMissing }, async () => {
    await backendReady;
    // [height, width, pool, stride, padding]
    const cases: [number, number, number, number, number][] = [
      [8, 8, 3, 2, 0],
      [9, 9, 3, 2, 0],
      [9, 8, 3, 2, 0],
      [8, 9, 3, 2, 0],
      [7, 10, 3, 2, 0],
      [7, 8, 2, 2, 0], // torchvision's 2x2/2 pool
      [9, 8, 3, 1, 1], // an inception module's pool branch
      [5, 6, 2, 2, 1], // 5: the window after the last would start in the padding, and is dropped
    ];
    for (const [h, w, k, s, p] of cases) {
      // The pools follow ReLUs in the network: inputs >= 0.
      const x = tf.tidy(() => tf.relu(tf.tensor4d(seeded(2 * h * w * 5, h * w), [2, h, w, 5])));
      const ours = probe([h, w, 5], (t) => ceilModeMaxPool(t, k, s, 'pool', p)).predict(x) as tf.Tensor4D;
      const attrs = { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], ceil_mode: 1 };
      const ref = await runNchw(oneNode('MaxPool', [2, 5, h, w], attrs), x);
      assertClose(ours, ref, `${h}x${w} pool ${k}/${s} pad ${p}`);
      tf.dispose([x, ours, ref]);
    }
  });

  test('7x7/2 convolutions with 3 pixels of zeros on every side', { skip: ortMissing }, async () => {
    await backendReady;
    for (const [h, w] of [
      [16, 16],
      [17, 17],
      [16, 19],
    ]) {
      const x = tf.tensor4d(seeded(h * w * 3, h + w), [1, h, w, 3]);
      const model = probe([h, w, 3], (t) => symmetricPadConvRelu(t, 4, 7, 'conv', 2, layerSeeds('conv', 1)));
      const kernel = model.getLayer('conv').getWeights()[0];
      const bias = tf.tensor1d(seeded(4, 9)); // non-zero, so that the ReLU cuts somewhere
      model.getLayer('conv').setWeights([kernel, bias]);
      const ours = model.predict(x) as tf.Tensor4D;
      const oihw = tf.transpose(kernel, [3, 2, 0, 1]);
      const bytes = oneNode(
        'Conv',
        [1, 3, h, w],
        { kernel_shape: [7, 7], strides: [2, 2], pads: [3, 3, 3, 3] },
        [
          { name: 'w', dims: oihw.shape, values: oihw.dataSync() as Float32Array },
          { name: 'b', dims: [4], values: bias.dataSync() as Float32Array },
        ],
        true,
      );
      const ref = await runNchw(bytes, x);
      assertClose(ours, ref, `${h}x${w} conv`);
      tf.dispose([x, bias, ours, oihw, ref]);
    }
  });

  test('the caffe network: same names, parameters and seeded weights as the default, plus conv_1_7x7_2_pad', () => {
    const keras = googlenetPaper({ numClasses: 1000, seed: 5 });
    const caffe = googlenetPaper({ numClasses: 1000, seed: 5, caffe: true });
    assert.equal(caffe.countParams(), 6_998_552);
    assert.equal(keras.countParams(), 6_998_552);
    const names = caffe.layers.map((l) => l.name);
    assert.deepEqual(
      names.filter((n) => n !== 'conv_1_7x7_2_pad'),
      keras.layers.map((l) => l.name),
    );
    assert.equal(caffe.getLayer('conv_1_7x7_2').getConfig().padding, 'valid');
    for (const layer of ['conv_1_7x7_2', 'inception_4c_5x5', 'output']) {
      const [a, b] = [caffe, keras].map((m) =>
        m
          .getLayer(layer)
          .getWeights()
          .map((w) => w.dataSync()),
      );
      assert.deepEqual(a, b, layer);
    }
    assert.throws(
      () => googlenetPaper({ caffe: 'yes' as never }),
      /^Error: googlenet-paper: caffe must be a boolean, got "yes"$/,
    );
  });

  test('exports to ONNX (ZeroPadding2D → Pad) and onnxruntime agrees, on a map with mixed parity', {
    skip: ortMissing,
  }, async () => {
    await backendReady;
    const model = googlenetPaper({
      caffe: true,
      inputShape: [45, 48, 3],
      numClasses: 7,
      widthMultiplier: 0.25,
      classifierActivation: 'linear',
      seed: 2,
    });
    // 45x48 → 23x24 → the first pool pads one column only; so do the next three.
    const pads = model.layers.filter((l) => l.getClassName() === 'ZeroPadding2D').map((l) => l.name);
    assert.deepEqual(pads, [
      'conv_1_7x7_2_pad',
      'max_pool_1_3x3_2_pad',
      'max_pool_2_3x3_2_pad',
      'max_pool_3_3x3_2_pad',
      'max_pool_4_3x3_2_pad',
    ]);
    const x = tf.tensor4d(seeded(2 * 45 * 48 * 3, 3), [2, 45, 48, 3]);
    const ours = model.predict(x) as tf.Tensor;
    const session = await ort!.InferenceSession.create(exportOnnxBytes(model));
    try {
      const out = await session.run({
        [session.inputNames[0]]: new ort!.Tensor('float32', x.dataSync() as Float32Array, x.shape),
      });
      const ref = tf.tensor(
        out[session.outputNames[0]].data as Float32Array,
        out[session.outputNames[0]].dims as number[],
      );
      assertClose(ours, ref, 'export');
      ref.dispose();
    } finally {
      await session.release();
    }
    tf.dispose([x, ours]);
  });
});
