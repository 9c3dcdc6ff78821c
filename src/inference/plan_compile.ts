import * as tf from '@tensorflow/tfjs';
import type { OneDnnBackend } from '../backend/onednn_backend';
import type { Pads, PlanNode, PlanSpec, Precision } from '../backend/plan_spec';
import { plannedGraph } from './plan_graph';
import { addPads, everyWindowHasInput, windowLength, windowPads } from './plan_pads';
import { type ActivationRanges, PlanUnsupportedError } from './plan_types';

type Layer = tf.layers.Layer;
type Config = Record<string, unknown>;

/** The weights of a layer, as tfjs keeps them (protected or private in its typings). */
interface LayerWeights {
  kernel?: tf.LayerVariable;
  bias?: tf.LayerVariable | null;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean?: tf.LayerVariable;
  movingVariance?: tf.LayerVariable;
}

/** Layers that compute nothing at inference. */
const INFERENCE_NO_OPS = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);

/** A ZeroPadding2D output not emitted yet: merged into the layer that reads it where that is exact. */
interface PendingPad {
  source: number;
  pads: Pads;
  layer: Layer;
  shape: number[];
  emitted?: number;
}

interface TensorInfo {
  shape: number[];
  /** Every value >= 0 (after a ReLU, softmax, or pools and concats of such): zero padding = ignored padding. */
  nonNegative: boolean;
  /** Layers that read it, counting the readers of no-op layers that pass it on; fusions need exactly 1. */
  uses: number;
}

function unsupported(layer: Layer, why: string): PlanUnsupportedError {
  return new PlanUnsupportedError(`layer '${layer.name}' (${layer.getClassName()}): ${why}`);
}

function pair(v: unknown, layer: Layer, what: string): [number, number] {
  const a = typeof v === 'number' ? [v, v] : (v as number[]);
  if (!Array.isArray(a) || a.length !== 2 || !a.every((n) => Number.isInteger(n) && n > 0)) {
    throw unsupported(layer, `${what} ${JSON.stringify(v)}`);
  }
  return [a[0], a[1]];
}

/**
 * A copy of a weight's values. On onednn the storage is copied directly: dataSync would mark it as read out,
 * and the fused optimizers would then stop updating it in place.
 */
function readValues(variable: tf.LayerVariable): Float32Array {
  const t = variable.read();
  const backend = tf.backend() as Partial<OneDnnBackend>;
  const own = typeof backend.float32 === 'function' ? backend.float32(t) : null;
  return Float32Array.from(own ?? (t.dataSync() as Float32Array));
}

function checkChannelsLast(layer: Layer, config: Config): void {
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') {
    throw unsupported(layer, `dataFormat ${config.dataFormat}`);
  }
}

/** Per-channel y = x * scale + shift of a BatchNormalization in inference mode, computed in float64. */
function batchNormAffine(layer: Layer): { scale: Float64Array; shift: Float64Array } {
  const config = layer.getConfig() as Config;
  const w = layer as unknown as LayerWeights;
  if (!w.movingMean || !w.movingVariance) throw unsupported(layer, 'no moving statistics');
  const mean = readValues(w.movingMean);
  const variance = readValues(w.movingVariance);
  const gamma = config.scale !== false && w.gamma ? readValues(w.gamma) : null;
  const beta = config.center !== false && w.beta ? readValues(w.beta) : null;
  const epsilon = config.epsilon as number;
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + epsilon);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** Builds the PlanSpec of one model, layer by layer, fusing as it goes. */
class SpecBuilder {
  readonly nodes: PlanNode[] = [];
  readonly tensors: TensorInfo[] = [];
  private readonly values = new Map<number, number | PendingPad>();

  constructor(
    private readonly uses: Map<number, number>,
    inputShape: number[],
    inputId: number,
  ) {
    this.tensors.push({ shape: inputShape, nonNegative: false, uses: uses.get(inputId) ?? 0 });
    this.values.set(inputId, 0);
  }

  private usesOf(t: tf.SymbolicTensor): number {
    return this.uses.get(t.id) ?? 0;
  }

  emit(out: tf.SymbolicTensor, node: PlanNode, nonNegative: boolean): number {
    this.nodes.push(node);
    this.tensors.push({ shape: node.shape, nonNegative, uses: this.usesOf(out) });
    const id = this.tensors.length - 1;
    this.values.set(out.id, id);
    return id;
  }

  value(t: tf.SymbolicTensor): number | PendingPad {
    const v = this.values.get(t.id);
    if (v === undefined)
      throw new Error(`plan compiler: tensor of '${t.sourceLayer.name}' used before it is computed`);
    return v;
  }

  /** The plan tensor of `t`, emitting a pending zero padding as a pad node. */
  tensor(t: tf.SymbolicTensor): number {
    const v = this.value(t);
    if (typeof v === 'number') return v;
    if (v.emitted === undefined) {
      this.nodes.push({ op: 'pad', name: v.layer.name, shape: v.shape, input: v.source, pads: v.pads });
      const source = this.tensors[v.source];
      this.tensors.push({ shape: v.shape, nonNegative: source.nonNegative, uses: 0 });
      v.emitted = this.tensors.length - 1;
    }
    this.tensors[v.emitted].uses++;
    return v.emitted;
  }

  /** `out` is `input`'s plan tensor itself (a no-op layer): its readers become the tensor's readers. */
  alias(out: tf.SymbolicTensor, input: tf.SymbolicTensor): void {
    const v = this.value(input);
    if (typeof v === 'number') this.tensors[v].uses += this.usesOf(out) - 1;
    this.values.set(out.id, v);
  }

  pending(out: tf.SymbolicTensor, pad: PendingPad): void {
    this.values.set(out.id, pad);
  }

  /** The node computing `input` when this layer is its only reader (so it may be changed in place). */
  soleProducer(input: tf.SymbolicTensor): { node: PlanNode; tensor: number } | null {
    const v = this.value(input);
    if (typeof v !== 'number' || v === 0 || this.tensors[v].uses !== 1) return null;
    return { node: this.nodes[v - 1], tensor: v };
  }

  /** `out` is now what node `tensor - 1` computes (a BN folded or an activation fused into it). */
  fuse(out: tf.SymbolicTensor, tensor: number, name: string, nonNegative: boolean): void {
    this.nodes[tensor - 1].name = name;
    this.tensors[tensor].uses = this.usesOf(out);
    this.tensors[tensor].nonNegative = nonNegative;
    this.values.set(out.id, tensor);
  }
}

function outputShape(t: tf.SymbolicTensor): number[] {
  const shape = t.shape.slice(1);
  if (!shape.every((d) => typeof d === 'number' && d > 0)) {
    throw unsupported(t.sourceLayer, `output shape ${JSON.stringify(t.shape)} is not fully known`);
  }
  return shape as number[];
}

function checkLength(layer: Layer, got: number[], want: number[]): void {
  if (got[0] !== want[0] || got[1] !== want[1]) {
    throw new Error(
      `plan compiler: layer '${layer.name}' computes ${got.join('x')} but Keras says ${want.join('x')}`,
    );
  }
}

/** Input tensor and pads of a window layer (conv, pool), with a preceding zero padding merged when `merge`. */
function windowInput(
  b: SpecBuilder,
  input: tf.SymbolicTensor,
  mode: string,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
  merge: (pad: PendingPad, pads: Pads) => boolean,
): { tensor: number; pads: Pads; merged: boolean } {
  const v = b.value(input);
  if (typeof v !== 'number') {
    const own = windowPads(mode, v.shape, kernel, strides, dilations);
    const pads = addPads(v.pads, own);
    if (merge(v, pads)) return { tensor: v.source, pads, merged: true };
  }
  const tensor = b.tensor(input);
  return {
    tensor,
    pads: windowPads(mode, b.tensors[tensor].shape, kernel, strides, dilations),
    merged: false,
  };
}

function convLayer(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  checkChannelsLast(layer, config);
  const activation = config.activation as string;
  if (activation !== 'relu' && activation !== 'linear') throw unsupported(layer, `activation ${activation}`);
  const mode = config.padding as string;
  if (mode !== 'same' && mode !== 'valid') throw unsupported(layer, `padding ${mode}`);
  const w = layer as unknown as LayerWeights;
  const kernelVar = w.kernel as tf.LayerVariable;
  const filterShape = kernelVar.shape as [number, number, number, number];
  const kernel: [number, number] = [filterShape[0], filterShape[1]];
  const strides = pair(config.strides, layer, 'strides');
  const dilations = pair(config.dilationRate, layer, 'dilationRate');
  // Zero padding then a convolution: the convolution's own padding is zeros too, so the two add up.
  const { tensor, pads } = windowInput(b, out.inputs[0], mode, kernel, strides, dilations, () => true);
  const shape = outputShape(out);
  const [h, wd] = b.tensors[tensor].shape;
  checkLength(
    layer,
    [
      windowLength(h, pads[0], pads[2], kernel[0], strides[0], dilations[0]),
      windowLength(wd, pads[1], pads[3], kernel[1], strides[1], dilations[1]),
    ],
    shape,
  );
  b.emit(
    out,
    {
      op: 'conv',
      name: layer.name,
      shape,
      input: tensor,
      filter: readValues(kernelVar),
      filterShape,
      bias: w.bias ? readValues(w.bias) : null,
      strides,
      dilations,
      pads,
      relu: activation === 'relu',
    },
    activation === 'relu',
  );
}

function poolLayer(
  b: SpecBuilder,
  out: tf.SymbolicTensor,
  layer: Layer,
  config: Config,
  kind: 'max' | 'avg',
): void {
  checkChannelsLast(layer, config);
  const mode = config.padding as string;
  if (mode !== 'same' && mode !== 'valid') throw unsupported(layer, `padding ${mode}`);
  const kernel = pair(config.poolSize, layer, 'poolSize');
  const strides = config.strides == null ? kernel : pair(config.strides, layer, 'strides');
  const input = out.inputs[0];
  const { tensor, pads, merged } = windowInput(b, input, mode, kernel, strides, [1, 1], (pad, all) =>
    kind === 'max'
      ? // The pool ignores its padding; zeros change nothing where the input is >= 0 and no window is all padding.
        b.tensors[pad.source].nonNegative &&
        everyWindowHasInput(b.tensors[pad.source].shape, all, kernel, strides)
      : // A valid average pool over zeros counts them: the executor's include-padding average.
        mode === 'valid',
  );
  const shape = outputShape(out);
  const [h, w] = b.tensors[tensor].shape;
  checkLength(
    layer,
    [
      windowLength(h, pads[0], pads[2], kernel[0], strides[0]),
      windowLength(w, pads[1], pads[3], kernel[1], strides[1]),
    ],
    shape,
  );
  b.emit(
    out,
    {
      op: 'pool',
      kind,
      name: layer.name,
      shape,
      input: tensor,
      kernel,
      strides,
      pads,
      // tfjs's `same` average divides by the cells inside the input; merged zero padding counts as input.
      excludePadding: kind === 'avg' && mode === 'same' && !merged,
    },
    b.tensors[tensor].nonNegative,
  );
}

/** A pool over the whole map (global pooling, adaptive pooling to 1x1), then a flatten to [C] if Keras drops H, W. */
function wholeMapPool(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, kind: 'max' | 'avg'): void {
  const input = b.tensor(out.inputs[0]);
  const [h, w, c] = b.tensors[input].shape;
  const shape = outputShape(out);
  const node: PlanNode = {
    op: 'pool',
    kind,
    name: layer.name,
    shape: [1, 1, c],
    input,
    kernel: [h, w],
    strides: [1, 1],
    pads: [0, 0, 0, 0],
    excludePadding: false,
  };
  const nonNegative = b.tensors[input].nonNegative;
  if (shape.length === 3) {
    b.emit(out, node, nonNegative);
    return;
  }
  b.nodes.push(node);
  b.tensors.push({ shape: node.shape, nonNegative, uses: 1 });
  b.emit(out, { op: 'flatten', name: layer.name, shape, input: b.tensors.length - 1 }, nonNegative);
}

function adaptivePool(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  const [oh, ow] = config.outputSize as [number, number];
  const [h, w] = outputShape(out.inputs[0]);
  if (oh === 1 && ow === 1) {
    wholeMapPool(b, out, layer, 'avg');
    return;
  }
  // Equal, non-overlapping bins are a plain average pool; other sizes have overlapping bins.
  if (h % oh !== 0 || w % ow !== 0) {
    throw unsupported(layer, `adaptive pooling of ${h}x${w} to ${oh}x${ow} (bins of unequal size)`);
  }
  const kernel: [number, number] = [h / oh, w / ow];
  const input = b.tensor(out.inputs[0]);
  b.emit(
    out,
    {
      op: 'pool',
      kind: 'avg',
      name: layer.name,
      shape: outputShape(out),
      input,
      kernel,
      strides: kernel,
      pads: [0, 0, 0, 0],
      excludePadding: false,
    },
    b.tensors[input].nonNegative,
  );
}

function batchNormLayer(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  const rank = out.shape.length;
  const axis = config.axis as number;
  if (axis !== -1 && axis !== rank - 1) throw unsupported(layer, `axis ${axis} (only the channel axis)`);
  const { scale, shift } = batchNormAffine(layer);
  const producer = b.soleProducer(out.inputs[0]);
  if (producer && producer.node.op === 'conv' && !producer.node.relu) {
    // Folded: conv(x, W * s) + (bias * s + shift), with s and shift in float64 before rounding once.
    const conv = producer.node;
    const outC = conv.filterShape[3];
    const filter = conv.filter;
    for (let i = 0; i < filter.length; i++) filter[i] = filter[i] * scale[i % outC];
    const bias = new Float32Array(outC);
    for (let c = 0; c < outC; c++) bias[c] = (conv.bias ? conv.bias[c] : 0) * scale[c] + shift[c];
    conv.bias = bias;
    b.fuse(out, producer.tensor, layer.name, false);
    return;
  }
  emitAffine(b, out, layer, scale, shift);
}

/** A per-channel y = x * scale + shift node (ReLU may fuse into it later). */
function emitAffine(
  b: SpecBuilder,
  out: tf.SymbolicTensor,
  layer: Layer,
  scale: ArrayLike<number>,
  shift: ArrayLike<number>,
): void {
  const input = b.tensor(out.inputs[0]);
  b.emit(
    out,
    {
      op: 'affine',
      name: layer.name,
      shape: outputShape(out),
      input,
      scale: Float32Array.from(scale),
      shift: Float32Array.from(shift),
      relu: false,
    },
    false,
  );
}

function reluLayer(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer): void {
  const producer = b.soleProducer(out.inputs[0]);
  const node = producer?.node;
  if (producer && node && (node.op === 'conv' || node.op === 'affine') && !node.relu) {
    node.relu = true;
    b.fuse(out, producer.tensor, layer.name, true);
    return;
  }
  if (producer && node?.op === 'dense' && node.activation === 'linear') {
    node.activation = 'relu';
    b.fuse(out, producer.tensor, layer.name, true);
    return;
  }
  b.emit(
    out,
    { op: 'relu', name: layer.name, shape: outputShape(out), input: b.tensor(out.inputs[0]) },
    true,
  );
}

function softmaxLayer(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, axis: unknown): void {
  const shape = outputShape(out);
  if (shape.length !== 1 || (axis !== undefined && axis !== -1 && axis !== 1)) {
    throw unsupported(
      layer,
      `softmax over a ${shape.length + 1}-D tensor (only over the classes of [batch, N])`,
    );
  }
  const producer = b.soleProducer(out.inputs[0]);
  if (producer && producer.node.op === 'dense' && producer.node.activation === 'linear') {
    producer.node.activation = 'softmax';
    b.fuse(out, producer.tensor, layer.name, true);
    return;
  }
  b.emit(out, { op: 'softmax', name: layer.name, shape, input: b.tensor(out.inputs[0]) }, true);
}

function denseLayer(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  const activation = config.activation as string;
  if (activation !== 'linear' && activation !== 'relu' && activation !== 'softmax') {
    throw unsupported(layer, `activation ${activation}`);
  }
  const input = b.tensor(out.inputs[0]);
  if (b.tensors[input].shape.length !== 1) {
    throw unsupported(
      layer,
      `a Dense layer on a ${b.tensors[input].shape.length + 1}-D input (flatten first)`,
    );
  }
  const w = layer as unknown as LayerWeights;
  const kernel = w.kernel as tf.LayerVariable;
  b.emit(
    out,
    {
      op: 'dense',
      name: layer.name,
      shape: outputShape(out),
      input,
      weights: readValues(kernel),
      weightsShape: kernel.shape as [number, number],
      bias: w.bias ? readValues(w.bias) : null,
      activation,
    },
    activation !== 'linear',
  );
}

function zeroPadding(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  checkChannelsLast(layer, config);
  const [[top, bottom], [left, right]] = config.padding as [[number, number], [number, number]];
  const own: Pads = [top, left, bottom, right];
  const v = b.value(out.inputs[0]);
  const shape = outputShape(out);
  b.pending(
    out,
    typeof v === 'number'
      ? { source: v, pads: own, layer, shape }
      : { source: v.source, pads: addPads(v.pads, own), layer, shape },
  );
}

function concatenate(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  const axis = config.axis as number;
  if (axis !== -1 && axis !== out.shape.length - 1)
    throw unsupported(layer, `axis ${axis} (only the channel axis)`);
  const inputs = out.inputs.map((t) => b.tensor(t));
  const nonNegative = inputs.every((t) => b.tensors[t].nonNegative);
  b.emit(out, { op: 'concat', name: layer.name, shape: outputShape(out), inputs }, nonNegative);
}

function lrnLayer(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  const input = b.tensor(out.inputs[0]);
  const { depthRadius, bias, alpha, beta } = config as Record<string, number>;
  // A positive denominator keeps each value's sign.
  const nonNegative = b.tensors[input].nonNegative && bias > 0 && alpha >= 0;
  const shape = outputShape(out);
  b.emit(
    out,
    { op: 'lrn', name: layer.name, shape, input, radius: depthRadius, bias, alpha, beta },
    nonNegative,
  );
}

function channelAffine(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  const { scale, offset } = config as { scale: number[]; offset: number[] };
  emitAffine(b, out, layer, scale, offset);
}

function flatten(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer): void {
  const input = b.tensor(out.inputs[0]);
  if (b.tensors[input].shape.length === 1) {
    b.alias(out, out.inputs[0]);
    return;
  }
  b.emit(
    out,
    { op: 'flatten', name: layer.name, shape: outputShape(out), input },
    b.tensors[input].nonNegative,
  );
}

function activationLayer(b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config): void {
  const activation = config.activation as string;
  if (activation === 'linear') b.alias(out, out.inputs[0]);
  else if (activation === 'relu') reluLayer(b, out, layer);
  else if (activation === 'softmax') softmaxLayer(b, out, layer, -1);
  else throw unsupported(layer, `activation ${activation}`);
}

type LayerCompiler = (b: SpecBuilder, out: tf.SymbolicTensor, layer: Layer, config: Config) => void;

/** How each layer class becomes plan nodes; a class not here is unsupported. */
const LAYER_COMPILERS: Record<string, LayerCompiler> = {
  Conv2D: convLayer,
  BatchNormalization: batchNormLayer,
  MaxPooling2D: (b, out, layer, config) => poolLayer(b, out, layer, config, 'max'),
  AveragePooling2D: (b, out, layer, config) => poolLayer(b, out, layer, config, 'avg'),
  GlobalAveragePooling2D: (b, out, layer, config) => {
    checkChannelsLast(layer, config);
    wholeMapPool(b, out, layer, 'avg');
  },
  GlobalMaxPooling2D: (b, out, layer, config) => {
    checkChannelsLast(layer, config);
    wholeMapPool(b, out, layer, 'max');
  },
  AdaptiveAveragePooling2D: adaptivePool,
  ZeroPadding2D: zeroPadding,
  Concatenate: concatenate,
  LRN: lrnLayer,
  ChannelAffine: channelAffine,
  Flatten: flatten,
  Dense: denseLayer,
  Activation: activationLayer,
  ReLU: (b, out, layer, config) => {
    if (config.maxValue != null) throw unsupported(layer, `maxValue ${config.maxValue}`);
    reluLayer(b, out, layer);
  },
  Softmax: (b, out, layer, config) => softmaxLayer(b, out, layer, config.axis),
};

/** Emits the node(s) computing `out`, the output of one layer call. */
function compileLayer(b: SpecBuilder, out: tf.SymbolicTensor): void {
  const layer = out.sourceLayer;
  const cls = layer.getClassName();
  if (out.inputs.length !== 1 && cls !== 'Concatenate')
    throw unsupported(layer, `${out.inputs.length} inputs`);
  if (INFERENCE_NO_OPS.has(cls)) {
    b.alias(out, out.inputs[0]);
    return;
  }
  const compile = LAYER_COMPILERS[cls];
  if (!compile) throw unsupported(layer, 'no planned equivalent');
  compile(b, out, layer, layer.getConfig() as Config);
}

export interface SpecOptions {
  batch: number;
  precision: Precision;
  ranges?: ActivationRanges;
  calibrate?: boolean;
}

/** The tensor's Keras layer name (the input's as `input`), by which calibrated ranges are keyed. */
export function tensorNames(spec: PlanSpec): string[] {
  return ['input', ...spec.nodes.map((n) => n.name)];
}

/**
 * Compiles `model`'s first output into a PlanSpec: conv + BN + ReLU fused, zero padding merged into the
 * window that reads it where that is exact, no-op layers dropped. Throws PlanUnsupportedError naming the
 * first layer it cannot plan. Weights are copied: the spec does not change when the model trains.
 */
export function compileSpec(model: tf.LayersModel, options: SpecOptions): PlanSpec {
  const graph = plannedGraph(model);
  const inputShape = outputShape(graph.input);
  if (inputShape.length !== 3) {
    throw new PlanUnsupportedError(
      `${model.name}: input shape ${JSON.stringify(graph.input.shape)} (the plan takes NHWC images)`,
    );
  }
  const b = new SpecBuilder(graph.uses, inputShape, graph.input.id);
  for (const t of graph.order) if (t !== graph.input) compileLayer(b, t);
  const output = b.tensor(graph.output);
  const spec: PlanSpec = {
    batch: options.batch,
    inputShape: inputShape as [number, number, number],
    precision: options.precision,
    nodes: b.nodes,
    output,
  };
  if (options.ranges) {
    const ranges = options.ranges;
    spec.ranges = tensorNames(spec).map((name) => ranges[name] ?? null);
  }
  if (options.calibrate) spec.calibrate = true;
  return spec;
}
