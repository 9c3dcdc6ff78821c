import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { explicitPads } from '../export/onnx_layers';
import { LRN, onnxLRNAttributes } from '../layers/lrn';
import { INCEPTION_TABLE } from '../models/googlenet';

/**
 * The ONNX model zoo's GoogLeNet (validated/vision/classification/inception_and_googlenet/googlenet,
 * googlenet-{3,6,7,8,9,12}.onnx) is Caffe's bvlc_googlenet converted through Caffe2: weights are the
 * initializers `<caffe layer>_w_0` (Conv OIHW, Gemm [out, in] with transB=1) and `<caffe layer>_b_0`, node
 * outputs are the Caffe blob names with SSA suffixes (`conv1/7x7_s2_1`, `pool5/7x7_s1_2`, `prob_1`).
 *
 * Input it expects (its README, and Caffe's): `data_0` NCHW 224x224, channels in BGR order, 0-255 pixel values
 * minus the per-channel mean B 103.939, G 116.779, R 123.68, no scaling. The loader reverses the first
 * convolution's input channels, so the loaded model takes RGB like every other model here, and the project's
 * Preprocessing (pixel/255 → (x - mean) / std) then expresses the rest exactly: ONNX_GOOGLENET_PREPROCESSING.
 */
export const ONNX_GOOGLENET_MEAN_RGB = [123.68, 116.779, 103.939] as const;

/** The zoo network's normalisation in Preprocessing terms (RGB order, of pixel/255): x = pixel - mean. */
export const ONNX_GOOGLENET_PREPROCESSING = Object.freeze({
  inputShape: [224, 224, 3] as [number, number, number],
  mean: ONNX_GOOGLENET_MEAN_RGB.map((m) => m / 255),
  std: [1 / 255, 1 / 255, 1 / 255],
});

/** Branch names of an inception module: Caffe's `inception_3a/<branch>` is googlenet-paper's `inception_3a_<branch>`. */
const BRANCHES = ['1x1', '3x3_reduce', '3x3', '5x5_reduce', '5x5', 'pool_proj'];

/** [Caffe layer, googlenet-paper layer] of every convolution, in network order. */
function convolutions(): [string, string][] {
  const pairs: [string, string][] = [
    ['conv1/7x7_s2', 'conv_1_7x7_2'],
    ['conv2/3x3_reduce', 'conv_2a_3x3_1'],
    ['conv2/3x3', 'conv_2b_3x3_1'],
  ];
  for (const rows of Object.values(INCEPTION_TABLE)) {
    for (const [module] of rows) {
      for (const branch of BRANCHES) pairs.push([`${module}/${branch}`, `${module}_${branch}`]);
    }
  }
  return pairs;
}

const FIRST_CONV = 'conv1/7x7_s2';
const CLASSIFIER = 'loss3/classifier';
/** googlenet-paper's classifier layer and its LRN layers, in the order of the file's LRN nodes. */
const OUTPUT_LAYER = 'output';
const LRN_LAYERS = ['lrn_1', 'lrn_2'];
/** Caffe2's parameter naming: every initializer named like this is a weight the network must use. */
const PARAM_NAME = /_[wb]_0$/;
const CAFFE_HINT = 'build it with googlenetPaper({ caffe: true })';

type Attrs = Map<string, onnx.IAttributeProto>;

function attrs(node: onnx.INodeProto): Attrs {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}

function intsAttr(a: Attrs, name: string, fallback: number[]): number[] {
  const v = a.get(name);
  return v?.ints?.length ? v.ints.map(Number) : fallback;
}

function intAttr(a: Attrs, name: string, fallback: number): number {
  const v = a.get(name);
  return v?.i !== undefined && v.i !== null ? Number(v.i) : fallback;
}

function floatAttr(a: Attrs, name: string, fallback: number): number {
  const v = a.get(name);
  return v?.f !== undefined && v.f !== null ? Number(v.f) : fallback;
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const show = (shape: number[]) => `[${shape.join(', ')}]`;

/** Reads ONNX ModelProto bytes; a truncated or non-ONNX file is a one-line error naming it. */
async function readModel(file: string): Promise<onnx.ModelProto> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    // Node's message repeats the path ("ENOENT: no such file or directory, open '<file>'").
    throw new Error(`${file}: cannot read the ONNX file: ${(e as Error).message.replace(/, \w+ '.*'$/, '')}`);
  }
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${file}: not a readable ONNX model (truncated or not ONNX): ${(e as Error).message}`);
  }
  if (!model.graph?.initializer?.length) {
    throw new Error(`${file}: not an ONNX model with weights (no graph initializers; truncated?)`);
  }
  return model;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An initializer's float32 values (raw_data little-endian, or float_data), checked against its dims. */
function floatValues(file: string, t: onnx.ITensorProto): Float32Array {
  const name = t.name;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new Error(
      `${file}: initializer ${name} keeps its data in an external file, which is not supported`,
    );
  }
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
    const type = onnx.TensorProto.DataType[t.dataType ?? 0] ?? String(t.dataType);
    throw new Error(`${file}: initializer ${name} is ${type}, expected FLOAT`);
  }
  const count = (t.dims ?? []).map(Number).reduce((a, b) => a * b, 1);
  let values: Float32Array;
  if (t.rawData?.length) {
    if (t.rawData.length !== count * 4) {
      throw new Error(
        `${file}: initializer ${name} holds ${t.rawData.length} bytes, expected ${count * 4} for shape ${show((t.dims ?? []).map(Number))}`,
      );
    }
    if (LITTLE_ENDIAN) {
      // A copy: raw_data lies at any offset of the file buffer, a Float32Array needs 4-byte alignment.
      values = new Float32Array(new Uint8Array(t.rawData).buffer);
    } else {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getFloat32(4 * i, true);
    }
  } else {
    const data = t.floatData ?? [];
    if (data.length !== count) {
      throw new Error(`${file}: initializer ${name} holds ${data.length} values, expected ${count}`);
    }
    values = Float32Array.from(data);
  }
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${file}: initializer ${name} holds ${values[bad]} at index ${bad}`);
  return values;
}

/** OIHW → HWIO; `reverseInput` also reverses the input channels (the zoo's BGR first layer → RGB). */
function oihwToHwio(src: Float32Array, [O, I, H, W]: number[], reverseInput: boolean): Float32Array {
  const dst = new Float32Array(src.length);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) {
      const iTo = reverseInput ? I - 1 - i : i;
      for (let h = 0; h < H; h++) {
        for (let w = 0; w < W; w++) dst[((h * W + w) * I + iTo) * O + o] = src[((o * I + i) * H + h) * W + w];
      }
    }
  }
  return dst;
}

/** [rows, cols] → [cols, rows]. */
function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
  return dst;
}

function layerOrThrow(file: string, model: tf.LayersModel, name: string, caffeName: string): tf.layers.Layer {
  try {
    return model.getLayer(name);
  } catch {
    throw new Error(`${file}: the model has no layer ${name} for ${caffeName}: ${CAFFE_HINT}`);
  }
}

/** Explicit ONNX pads [top, left, bottom, right] the model's convolution applies to its input. */
function modelConvPads(layer: tf.layers.Layer, kernel: number[], strides: number[]): number[] {
  const config = layer.getConfig();
  const inbound = layer.inboundNodes[0].inboundLayers[0];
  if (config.padding === 'valid' && inbound?.getClassName() === 'ZeroPadding2D') {
    const [[top, bottom], [left, right]] = inbound.getConfig().padding as number[][];
    return [top, left, bottom, right];
  }
  const [, h, w] = layer.inboundNodes[0].inputTensors[0].shape as number[];
  return explicitPads(String(config.padding), [h, w], [kernel[0], kernel[1]], [strides[0], strides[1]]);
}

interface Assignment {
  layer: tf.layers.Layer;
  values: { data: Float32Array; shape: number[] }[];
}

/** Checks a Conv node against the model layer and returns the layer's new [kernel, bias]. */
function convAssignment(
  file: string,
  model: tf.LayersModel,
  [caffeName, layerName]: [string, string],
  node: onnx.INodeProto | undefined,
  tensors: Map<string, onnx.ITensorProto>,
): Assignment {
  const wName = `${caffeName}_w_0`;
  const bName = `${caffeName}_b_0`;
  for (const n of [wName, bName]) {
    if (!tensors.has(n))
      throw new Error(`${file}: initializer ${n} is missing (not the ONNX zoo's GoogLeNet?)`);
  }
  if (node?.opType !== 'Conv' || node.input?.[2] !== bName) {
    throw new Error(`${file}: initializer ${wName} is not the weight of a Conv node with bias ${bName}`);
  }
  const layer = layerOrThrow(file, model, layerName, caffeName);
  const [kernelVar, biasVar] = layer.weights;
  const kernelShape = kernelVar?.shape as number[] | undefined;
  if (layer.getClassName() !== 'Conv2D' || kernelShape?.length !== 4 || !biasVar) {
    throw new Error(`${file}: layer ${layerName} is not a Conv2D with bias; ${CAFFE_HINT}`);
  }
  const [kh, kw, cin, cout] = kernelShape;
  const w = tensors.get(wName)!;
  const b = tensors.get(bName)!;
  const wShape = (w.dims ?? []).map(Number);
  const bShape = (b.dims ?? []).map(Number);
  if (!same(wShape, [cout, cin, kh, kw])) {
    throw new Error(
      `${file}: initializer ${wName} has shape ${show(wShape)}, layer ${layerName} needs ${show([cout, cin, kh, kw])}`,
    );
  }
  if (!same(bShape, [cout])) {
    throw new Error(
      `${file}: initializer ${bName} has shape ${show(bShape)}, layer ${layerName} needs [${cout}]`,
    );
  }
  const a = attrs(node);
  const strides = (layer.getConfig().strides as number[]) ?? [1, 1];
  const fileStrides = intsAttr(a, 'strides', [1, 1]);
  const pads = intsAttr(a, 'pads', [0, 0, 0, 0]);
  const ours = modelConvPads(layer, [kh, kw], strides);
  const autoPad = a.get('auto_pad')?.s;
  if (
    intAttr(a, 'group', 1) !== 1 ||
    !same(intsAttr(a, 'dilations', [1, 1]), [1, 1]) ||
    (autoPad?.length && new TextDecoder().decode(autoPad) !== 'NOTSET')
  ) {
    throw new Error(
      `${file}: Conv ${caffeName} uses group, dilation or auto_pad, which bvlc_googlenet does not`,
    );
  }
  if (!same(fileStrides, strides) || !same(pads, ours)) {
    throw new Error(
      `${file}: Conv ${caffeName} has strides ${show(fileStrides)} pads ${show(pads)}, layer ${layerName} strides ${show(strides)} pads ${show(ours)}; ${CAFFE_HINT}`,
    );
  }
  return {
    layer,
    values: [
      { data: oihwToHwio(floatValues(file, w), wShape, caffeName === FIRST_CONV), shape: kernelShape },
      { data: floatValues(file, b), shape: [cout] },
    ],
  };
}

/**
 * The classifier's [kernel, bias] when the model's head has the file's class count, else null (the model
 * keeps its own head: another numClasses, or includeTop false).
 */
function classifierAssignment(
  file: string,
  model: tf.LayersModel,
  node: onnx.INodeProto | undefined,
  tensors: Map<string, onnx.ITensorProto>,
): Assignment | null {
  const wName = `${CLASSIFIER}_w_0`;
  const bName = `${CLASSIFIER}_b_0`;
  for (const n of [wName, bName]) {
    if (!tensors.has(n))
      throw new Error(`${file}: initializer ${n} is missing (not the ONNX zoo's GoogLeNet?)`);
  }
  const a = node ? attrs(node) : new Map();
  if (
    node?.opType !== 'Gemm' ||
    node.input?.[2] !== bName ||
    intAttr(a, 'transA', 0) !== 0 ||
    floatAttr(a, 'alpha', 1) !== 1 ||
    floatAttr(a, 'beta', 1) !== 1
  ) {
    throw new Error(
      `${file}: initializer ${wName} is not the weight of a plain Gemm node with bias ${bName}`,
    );
  }
  const transB = intAttr(a, 'transB', 0) === 1;
  const wShape = (tensors.get(wName)!.dims ?? []).map(Number);
  const bShape = (tensors.get(bName)!.dims ?? []).map(Number);
  const [units, inputs] = transB ? wShape : [wShape[1], wShape[0]];
  if (wShape.length !== 2 || !same(bShape, [units])) {
    throw new Error(
      `${file}: initializers ${wName} ${show(wShape)} and ${bName} ${show(bShape)} do not fit together`,
    );
  }
  const layer = model.layers.find((l) => l.name === OUTPUT_LAYER);
  const kernelShape = layer?.weights[0]?.shape as number[] | undefined;
  if (!layer || kernelShape?.length !== 2 || kernelShape[1] !== units) return null;
  if (kernelShape[0] !== inputs) {
    throw new Error(
      `${file}: initializer ${wName} takes ${inputs} inputs, layer ${OUTPUT_LAYER} ${kernelShape[0]}`,
    );
  }
  const w = floatValues(file, tensors.get(wName)!);
  return {
    layer,
    values: [
      { data: transB ? transpose2d(w, units, inputs) : w, shape: kernelShape },
      { data: floatValues(file, tensors.get(bName)!), shape: [units] },
    ],
  };
}

/** The file's two LRN nodes must compute what the model's LRN layers compute. */
function checkLrn(file: string, model: tf.LayersModel, nodes: onnx.INodeProto[]): void {
  const lrnNodes = nodes.filter((n) => n.opType === 'LRN');
  if (lrnNodes.length !== LRN_LAYERS.length) {
    throw new Error(`${file}: ${lrnNodes.length} LRN nodes, bvlc_googlenet has ${LRN_LAYERS.length}`);
  }
  lrnNodes.forEach((node, i) => {
    const layer = layerOrThrow(file, model, LRN_LAYERS[i], node.output?.[0] ?? 'LRN');
    if (!(layer instanceof LRN))
      throw new Error(`${file}: layer ${layer.name} is not an LRN layer; ${CAFFE_HINT}`);
    const want = onnxLRNAttributes(layer);
    const a = attrs(node);
    const got = {
      size: intAttr(a, 'size', 0),
      alpha: floatAttr(a, 'alpha', 1e-4),
      beta: floatAttr(a, 'beta', 0.75),
      bias: floatAttr(a, 'bias', 1),
    };
    // Attributes are float32 in the file.
    const close = (x: number, y: number) => Math.abs(x - y) <= 1e-6 * Math.abs(y);
    if (
      got.size !== want.size ||
      !(['alpha', 'beta', 'bias'] as const).every((k) => close(got[k], want[k]))
    ) {
      throw new Error(
        `${file}: LRN ${node.output?.[0]} ${JSON.stringify(got)} differs from layer ${layer.name} ${JSON.stringify(want)}`,
      );
    }
  });
}

export interface LoadOnnxOptions {
  /** Receives one line saying what was loaded. */
  print?: (line: string) => void;
}

/**
 * Copies the ONNX model zoo GoogLeNet's weights (any of its fp32 opset variants, or a file of the same form)
 * into a `googlenetPaper({ caffe: true })` model: all 57 convolutions, and the 1000-class classifier when the
 * model's head has the file's class count (another numClasses or includeTop false keeps the model's own
 * head). Every shape, the convolutions' strides and padding and the LRN parameters are checked against the
 * model before anything is written, so a failed load leaves the model as it was. The first convolution's
 * input channels are reversed: the loaded model takes RGB (see ONNX_GOOGLENET_PREPROCESSING).
 */
export async function loadOnnxGoogLeNetWeights(
  model: tf.LayersModel,
  file: string,
  options: LoadOnnxOptions = {},
): Promise<void> {
  const proto = await readModel(file);
  const graph = proto.graph!;
  const tensors = new Map(graph.initializer!.map((t) => [t.name ?? '', t]));
  const nodes = graph.node ?? [];
  const byWeight = new Map(nodes.filter((n) => n.input?.[1]).map((n) => [n.input![1], n]));
  const convs = convolutions();
  const expected = new Set([...convs.map(([c]) => c), CLASSIFIER].flatMap((c) => [`${c}_w_0`, `${c}_b_0`]));
  const unexpected = [...tensors.keys()].find((name) => PARAM_NAME.test(name) && !expected.has(name));
  if (unexpected) {
    throw new Error(`${file}: unexpected initializer ${unexpected}: not bvlc_googlenet's deploy network`);
  }
  const assignments = convs.map((pair) =>
    convAssignment(file, model, pair, byWeight.get(`${pair[0]}_w_0`), tensors),
  );
  const head = classifierAssignment(file, model, byWeight.get(`${CLASSIFIER}_w_0`), tensors);
  checkLrn(file, model, nodes);
  if (head) assignments.push(head);
  for (const { layer, values } of assignments) {
    const ts = values.map(({ data, shape }) => tf.tensor(data, shape, 'float32'));
    layer.setWeights(ts);
    tf.dispose(ts);
  }
  const count = assignments.reduce((n, a) => n + a.values.length, 0);
  const hasHead = model.layers.some((l) => l.name === OUTPUT_LAYER);
  const kept = head
    ? ''
    : hasHead
      ? '; the model keeps its own classifier (another class count)'
      : ' (no top)';
  options.print?.(`${file}: loaded ${count} tensors of the ONNX zoo GoogLeNet${kept}`);
}
