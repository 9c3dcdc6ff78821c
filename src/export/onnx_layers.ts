import * as tf from '@tensorflow/tfjs';
import { float, type OnnxGraphBuilder } from './onnx_graph';

/**
 * Layer → ONNX node mapping. Layout invariant: every rank-4 value inside the graph is NCHW (ONNX's native
 * Conv/Pool layout, which onnxruntime runs without per-op transposes); the NHWC graph input is transposed
 * once, and rank-4 outputs (and Flatten, to keep Keras' HWC element order) transpose back.
 */

/** A value flowing through the graph: its ONNX name and its Keras (NHWC) shape. */
export interface OnnxValue {
  name: string;
  shape: (number | null)[];
}

export type LayerConverter = (layer: tf.layers.Layer, inputs: OnnxValue[], g: OnnxGraphBuilder) => string[];

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Keras axis of a rank-4 NHWC tensor → the same axis in NCHW. */
function nchwAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return rank === 4 ? NHWC_TO_NCHW.indexOf(a) : a;
}

function pair(v: number | number[] | undefined, fallback: number): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

/**
 * Explicit ONNX pads [top, left, bottom, right] for Keras padding. `same` pads the total
 * max((ceil(in/s)-1)*s + effectiveKernel - in, 0) with the smaller half first (TensorFlow's rule), which
 * ONNX auto_pad cannot express for every shape, so it is always written out.
 */
export function explicitPads(
  padding: string,
  inputHW: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new Error(`padding ${JSON.stringify(padding)} is not supported`);
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < 2; i++) {
    const effective = (kernel[i] - 1) * dilations[i] + 1;
    const out = Math.ceil(inputHW[i] / strides[i]);
    const total = Math.max((out - 1) * strides[i] + effective - inputHW[i], 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

function spatial(layer: tf.layers.Layer, input: OnnxValue): [number, number] {
  const [, h, w] = input.shape;
  if (input.shape.length !== 4 || typeof h !== 'number' || typeof w !== 'number') {
    throw new Error(
      `layer ${layer.name} (${layer.getClassName()}): needs a static [batch, height, width, channels] input, got ${JSON.stringify(input.shape)}`,
    );
  }
  return [h, w];
}

function requireChannelsLast(layer: tf.layers.Layer): void {
  const format = layer.getConfig().dataFormat;
  if (format !== undefined && format !== 'channelsLast') {
    throw new Error(`layer ${layer.name} (${layer.getClassName()}): dataFormat ${format} is not supported`);
  }
}

/** The tfjs activation identifier of a layer config (string or serialized object). */
function activationName(value: unknown): string {
  if (value === undefined || value === null) return 'linear';
  if (typeof value === 'string') return value;
  const v = value as { className?: string; config?: { name?: string } };
  return v.config?.name ?? v.className ?? String(value);
}

/** Appends the node(s) of a Keras activation to `input`; `linear` adds nothing. */
export function applyActivation(
  g: OnnxGraphBuilder,
  layer: tf.layers.Layer,
  input: string,
  activation: unknown,
  rank: number,
): string {
  const name = activationName(activation);
  const node = `${layer.name}_${name}`;
  switch (name) {
    case 'linear':
      return input;
    case 'relu':
      return g.node('Relu', [input], node)[0];
    case 'relu6':
      return g.node(
        'Clip',
        [
          input,
          g.weight(`${node}_min`, [], new Float32Array([0])),
          g.weight(`${node}_max`, [], new Float32Array([6])),
        ],
        node,
      )[0];
    case 'sigmoid':
      return g.node('Sigmoid', [input], node)[0];
    case 'tanh':
      return g.node('Tanh', [input], node)[0];
    case 'elu':
      return g.node('Elu', [input], node, { alpha: float(1) })[0];
    case 'selu':
      return g.node('Selu', [input], node, {
        alpha: float(1.6732632423543772),
        gamma: float(1.0507009873554805),
      })[0];
    case 'softplus':
      return g.node('Softplus', [input], node)[0];
    case 'softsign':
      return g.node('Softsign', [input], node)[0];
    case 'softmax':
      // Keras softmax runs over the last (channel) axis, which is axis 1 of an NCHW value.
      return g.node('Softmax', [input], node, { axis: rank === 4 ? 1 : -1 })[0];
    default:
      throw new Error(
        `layer ${layer.name} (${layer.getClassName()}): activation ${JSON.stringify(name)} has no ONNX mapping`,
      );
  }
}

/** The layer's weights by their short name (`kernel`, `bias`, `gamma`, `moving_mean`, ...). */
export function weightsByName(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  const values = layer.getWeights();
  const out = new Map<string, tf.Tensor>();
  layer.weights.forEach((w, i) => {
    out.set(w.originalName.split('/').pop()!, values[i]);
  });
  return out;
}

export function weightData(t: tf.Tensor, perm?: number[]): { dims: number[]; values: Float32Array } {
  const moved = perm ? tf.transpose(t, perm) : t;
  const values = moved.dataSync() as Float32Array;
  const dims = moved.shape.slice();
  if (perm) moved.dispose();
  return { dims, values: Float32Array.from(values) };
}

function required(layer: tf.layers.Layer, weights: Map<string, tf.Tensor>, name: string): tf.Tensor {
  const w = weights.get(name);
  if (!w) throw new Error(`layer ${layer.name} (${layer.getClassName()}): weight ${name} not found`);
  return w;
}

/** The ONNX Conv attributes of a Keras Conv2D layer applied to `x` (kernel, strides, dilations, explicit pads). */
export function convAttributes(layer: tf.layers.Layer, x: OnnxValue): Record<string, number[]> {
  requireChannelsLast(layer);
  const c = layer.getConfig() as any;
  const kernel = pair(c.kernelSize, 1);
  const strides = pair(c.strides, 1);
  const dilations = pair(c.dilationRate, 1);
  return {
    kernel_shape: kernel,
    strides,
    dilations,
    pads: explicitPads(c.padding, spatial(layer, x), kernel, strides, dilations),
  };
}

/** A Conv2D or Dense layer's kernel (as stored: HWIO / [in, out]) and bias (null without one). */
export function kernelAndBias(layer: tf.layers.Layer): { kernel: tf.Tensor; bias: tf.Tensor | null } {
  const weights = weightsByName(layer);
  const useBias = (layer.getConfig() as any).useBias !== false;
  return {
    kernel: required(layer, weights, 'kernel'),
    bias: useBias ? required(layer, weights, 'bias') : null,
  };
}

/** The Keras activation of a layer's config (`linear` when it has none). */
export function layerActivation(layer: tf.layers.Layer): string {
  return activationName((layer.getConfig() as any).activation);
}

const conv2d: LayerConverter = (layer, [x], g) => {
  const attrs = convAttributes(layer, x);
  const { kernel, bias } = kernelAndBias(layer);
  const k = weightData(kernel, [3, 2, 0, 1]); // HWIO → OIHW
  const inputs = [x.name, g.weight(`${layer.name}_W`, k.dims, k.values)];
  if (bias) {
    const b = weightData(bias);
    inputs.push(g.weight(`${layer.name}_B`, b.dims, b.values));
  }
  const [y] = g.node('Conv', inputs, layer.name, attrs);
  return [applyActivation(g, layer, y, (layer.getConfig() as any).activation, 4)];
};

function pool(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (layer, [x], g) => {
    requireChannelsLast(layer);
    const c = layer.getConfig() as any;
    const kernel = pair(c.poolSize, 2);
    const strides = pair(c.strides ?? c.poolSize, 2);
    const attrs: Record<string, number | number[]> = {
      kernel_shape: kernel,
      strides,
      pads: explicitPads(c.padding, spatial(layer, x), kernel, strides),
    };
    // Keras `same` average pooling divides by the number of real (unpadded) inputs in each window.
    if (op === 'AveragePool') attrs.count_include_pad = 0;
    return g.node(op, [x.name], layer.name, attrs);
  };
}

function globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (layer, [x], g) => {
    requireChannelsLast(layer);
    if ((layer.getConfig() as any).keepDims) {
      throw new Error(`layer ${layer.name} (${layer.getClassName()}): keepDims is not supported`);
    }
    const [pooled] = g.node(op, [x.name], `${layer.name}_nc11`);
    return g.node('Flatten', [pooled], layer.name, { axis: 1 });
  };
}

const dense: LayerConverter = (layer, [x], g) => {
  if (x.shape.length !== 2) {
    throw new Error(
      `layer ${layer.name} (Dense): only rank-2 inputs are supported, got ${JSON.stringify(x.shape)}`,
    );
  }
  const c = layer.getConfig() as any;
  const weights = weightsByName(layer);
  const k = weightData(required(layer, weights, 'kernel'));
  const inputs = [x.name, g.weight(`${layer.name}_W`, k.dims, k.values)];
  if (c.useBias !== false) {
    const b = weightData(required(layer, weights, 'bias'));
    inputs.push(g.weight(`${layer.name}_B`, b.dims, b.values));
  }
  const [y] = g.node('Gemm', inputs, layer.name);
  return [applyActivation(g, layer, y, c.activation, 2)];
};

/** A channel-axis BatchNormalization layer's inference parameters (gamma 1 and beta 0 where it has none). */
export function batchNormParams(layer: tf.layers.Layer, rank: number) {
  const c = layer.getConfig() as any;
  const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
  if (axis.length !== 1 || (axis[0] + rank) % rank !== rank - 1) {
    throw new Error(
      `layer ${layer.name} (BatchNormalization): only the channel axis (-1) is supported, got axis ${JSON.stringify(c.axis)}`,
    );
  }
  const weights = weightsByName(layer);
  const mean = weightData(required(layer, weights, 'moving_mean')).values;
  const variance = weightData(required(layer, weights, 'moving_variance')).values;
  const channels = mean.length;
  const gamma = weights.has('gamma')
    ? weightData(weights.get('gamma')!).values
    : new Float32Array(channels).fill(1);
  const beta = weights.has('beta') ? weightData(weights.get('beta')!).values : new Float32Array(channels);
  return { gamma, beta, mean, variance, epsilon: (c.epsilon ?? 1e-3) as number };
}

const batchNormalization: LayerConverter = (layer, [x], g) => {
  const p = batchNormParams(layer, x.shape.length);
  const channels = p.mean.length;
  return g.node(
    'BatchNormalization',
    [
      x.name,
      g.weight(`${layer.name}_scale`, [channels], p.gamma),
      g.weight(`${layer.name}_B`, [channels], p.beta),
      g.weight(`${layer.name}_mean`, [channels], p.mean),
      g.weight(`${layer.name}_var`, [channels], p.variance),
    ],
    layer.name,
    { epsilon: float(p.epsilon) },
  );
};

/**
 * tfjs localResponseNormalization sums squares over [c - r, c + r] and divides by (bias + alpha * sum)^beta;
 * ONNX LRN sums over `size` channels centred on c and scales alpha by 1/size, so size = 2r + 1 and
 * alpha_onnx = alpha * size.
 */
const lrn: LayerConverter = (layer, [x], g) => {
  const c = layer.getConfig() as any;
  if (x.shape.length !== 4) throw new Error(`layer ${layer.name} (LRN): needs a rank-4 input`);
  const size = 2 * (c.depthRadius ?? 5) + 1;
  return g.node('LRN', [x.name], layer.name, {
    size,
    alpha: float((c.alpha ?? 1) * size),
    beta: float(c.beta ?? 0.5),
    bias: float(c.bias ?? 1),
  });
};

const concatenate: LayerConverter = (layer, inputs, g) => {
  const rank = inputs[0].shape.length;
  return g.node(
    'Concat',
    inputs.map((v) => v.name),
    layer.name,
    { axis: nchwAxis((layer.getConfig() as any).axis ?? -1, rank) },
  );
};

const flatten: LayerConverter = (layer, [x], g) => {
  let input = x.name;
  // Keras flattens NHWC in H, W, C order: move channels last again before flattening.
  if (x.shape.length === 4)
    input = g.node('Transpose', [input], `${layer.name}_nhwc`, { perm: NCHW_TO_NHWC })[0];
  return g.node('Flatten', [input], layer.name, { axis: 1 });
};

const activation: LayerConverter = (layer, [x], g) => [
  applyActivation(g, layer, x.name, (layer.getConfig() as any).activation, x.shape.length),
];

/** ZeroPadding2D ([[top, bottom], [left, right]]) → Pad with zeros on the NCHW value's H and W. */
const zeroPadding2d: LayerConverter = (layer, [x], g) => {
  requireChannelsLast(layer);
  const [[top, bottom], [left, right]] = layer.getConfig().padding as number[][];
  const pads = g.int64Weight(`${layer.name}_pads`, [0, 0, top, left, 0, 0, bottom, right]);
  return g.node('Pad', [x.name, pads], layer.name, { mode: 'constant' });
};

/** Layers that compute nothing at inference. */
const identity: LayerConverter = (_layer, [x]) => [x.name];

const add: LayerConverter = (layer, inputs, g) => {
  let sum = inputs[0].name;
  for (let i = 1; i < inputs.length; i++) {
    sum = g.node(
      'Add',
      [sum, inputs[i].name],
      i === inputs.length - 1 ? layer.name : `${layer.name}_${i}`,
    )[0];
  }
  return [sum];
};

/** ChannelAffine (x * scale + offset per channel) → Mul and Add with [C] or, on NCHW, [C, 1, 1] constants. */
const channelAffine: LayerConverter = (layer, [x], g) => {
  const { scale, offset } = layer.getConfig() as { scale: number[]; offset: number[] };
  const dims = x.shape.length === 4 ? [scale.length, 1, 1] : [scale.length];
  const [scaled] = g.node(
    'Mul',
    [x.name, g.weight(`${layer.name}_scale`, dims, Float32Array.from(scale))],
    `${layer.name}_mul`,
  );
  return g.node(
    'Add',
    [scaled, g.weight(`${layer.name}_offset`, dims, Float32Array.from(offset))],
    layer.name,
  );
};

/** Converters by tfjs class name. */
export const LAYER_CONVERTERS: Record<string, LayerConverter> = {
  Conv2D: conv2d,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  Dense: dense,
  BatchNormalization: batchNormalization,
  LRN: lrn,
  Concatenate: concatenate,
  Flatten: flatten,
  Activation: activation,
  Add: add,
  ZeroPadding2D: zeroPadding2d,
  ChannelAffine: channelAffine,
  Dropout: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
};
