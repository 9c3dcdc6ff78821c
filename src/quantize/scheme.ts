/**
 * The int8 scheme of quantization.json (QUANTIZATION_SCHEME), as arithmetic every int8 engine shares: the
 * ONNX QDQ export here, the native plan's executor in C++. Zero points are always 0.
 */

/** How one activation tensor is stored: u8 after a ReLU (min >= 0), s8 otherwise. */
export interface ActivationQuant {
  type: 'uint8' | 'int8';
  scale: number;
}

/**
 * The per-tensor parameters of a calibrated [min, max]: u8 max/255 when min >= 0, else s8 max|x|/127; a
 * range of only zeros (a dead ReLU) gets scale 1, which stores its zeros exactly (as native/plan.cc does).
 */
export function activationQuant([min, max]: [number, number]): ActivationQuant {
  if (!(Number.isFinite(min) && Number.isFinite(max) && min <= max)) {
    throw new Error(`activation range must be finite [min, max] with min <= max, got [${min}, ${max}]`);
  }
  if (min >= 0) return { type: 'uint8', scale: max > 0 ? max / 255 : 1 };
  const amax = Math.max(-min, Math.abs(max));
  return { type: 'int8', scale: amax / 127 };
}

/** Rounds half to even, as QuantizeLinear and oneDNN's int8 conversion do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A convolution filter in HWIO ([kh, kw, inC, outC], tfjs's layout) with its bias. */
export interface ConvWeights {
  filter: Float32Array;
  shape: [number, number, number, number];
  bias: Float32Array | null;
}

/** A BatchNormalization layer's inference parameters (gamma 1 / beta 0 where the layer has none). */
export interface BatchNormParams {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/**
 * A convolution followed by inference-mode BatchNormalization as one convolution: per output channel c,
 * k = gamma / sqrt(variance + epsilon), filter *= k, bias = (bias - mean) * k + beta. Quantizing the folded
 * filter (not the raw one) is what makes the per-channel weight scales right for what the engines run.
 */
export function foldBatchNorm(conv: ConvWeights, bn: BatchNormParams): ConvWeights {
  const outC = conv.shape[3];
  if (bn.gamma.length !== outC) {
    throw new Error(`batch norm has ${bn.gamma.length} channels but the convolution ${outC}`);
  }
  const k = new Float32Array(outC);
  const bias = new Float32Array(outC);
  for (let c = 0; c < outC; c++) {
    k[c] = bn.gamma[c] / Math.sqrt(bn.variance[c] + bn.epsilon);
    bias[c] = ((conv.bias?.[c] ?? 0) - bn.mean[c]) * k[c] + bn.beta[c];
  }
  const filter = new Float32Array(conv.filter.length);
  for (let i = 0; i < filter.length; i++) filter[i] = conv.filter[i] * k[i % outC];
  return { filter, shape: conv.shape, bias };
}

/** A filter quantized per output channel: s8 values (same HWIO layout) and one scale per channel. */
export interface QuantizedFilter {
  values: Int8Array;
  scales: Float32Array;
}

/** s8 symmetric per output channel: scale_c = max|w_c| / 127, q = round(w / scale_c) in [-127, 127]. */
export function quantizeFilter(filter: Float32Array, outC: number): QuantizedFilter {
  const amax = new Float32Array(outC);
  for (let i = 0; i < filter.length; i++) {
    const c = i % outC;
    const a = Math.abs(filter[i]);
    if (!Number.isFinite(a)) throw new Error(`filter value ${i} is ${filter[i]}`);
    if (a > amax[c]) amax[c] = a;
  }
  const scales = amax.map((a) => (a > 0 ? a / 127 : 1));
  const values = new Int8Array(filter.length);
  for (let i = 0; i < filter.length; i++) {
    const q = roundHalfEven(filter[i] / scales[i % outC]);
    values[i] = Math.max(-127, Math.min(127, q));
  }
  return { values, scales };
}

/**
 * The bias as the int32 accumulator adds it: round(bias_c / (x_scale * w_scale_c)), clamped to int32 (a
 * clamp can only bite for a bias millions of times the largest product, i.e. a dead input).
 */
export function quantizeBias(bias: Float32Array, inputScale: number, filterScales: Float32Array): Int32Array {
  const out = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const q = roundHalfEven(bias[c] / (inputScale * filterScales[c]));
    out[c] = Math.max(-2147483647, Math.min(2147483647, q));
  }
  return out;
}
