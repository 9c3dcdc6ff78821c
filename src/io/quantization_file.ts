import { createHash } from 'node:crypto';

/**
 * `quantization.json` of a quantized model folder (written by `inception quantize`): the calibrated activation
 * ranges from which the int8 engines (the native plan, the ONNX QDQ export) derive their scales. The folder
 * keeps its float weights: weight scales are derived from them (after BatchNormalization folding) wherever the
 * model is compiled, so the ranges are the only thing calibration adds.
 */
export const QUANTIZATION_JSON = 'quantization.json';

/**
 * The one scheme there is: activations per tensor, zero point 0, u8 with scale max/255 where the calibrated
 * min >= 0 (after ReLU), s8 with scale max|x|/127 otherwise; weights s8 per output channel, scale
 * max|w_c|/127, after BatchNormalization is folded into the convolution; ranges are plain min/max over the
 * calibration images. A reader that meets another scheme refuses the folder rather than guess.
 */
export const QUANTIZATION_SCHEME = 'int8-minmax-v1';

/** The precision model-info.json declares for a quantized folder (its marker). */
export const QUANTIZED_PRECISION = 'int8';

export interface ModelQuantization {
  scheme: typeof QUANTIZATION_SCHEME;
  /** [min, max] of each layer's output over the calibration images, by Keras layer name; `input` for the input. */
  activations: Record<string, [number, number]>;
  calibration: {
    /** The calibration image folder, as given. */
    images: string;
    /** Images the ranges were measured on. */
    count: number;
    /** The float model folder that was quantized. */
    source: string;
  };
  /** SHA-256 of the weights the ranges were measured with: other weights make the ranges meaningless. */
  weightsSha256: string;
}

/** SHA-256 (hex) of a model's weight bytes, as model.json's manifest lays them out. */
export function weightsSha256(data: ArrayBuffer | Uint8Array): string {
  return createHash('sha256')
    .update(data instanceof Uint8Array ? data : new Uint8Array(data))
    .digest('hex');
}

function isRange(v: unknown): v is [number, number] {
  return (
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
    v[0] <= v[1]
  );
}

/** What is wrong with a parsed quantization.json, as `field: problem`, or null when it is usable. */
export function quantizationProblem(q: unknown): string | null {
  if (q === null || typeof q !== 'object' || Array.isArray(q)) return 'expected a JSON object';
  const v = q as Partial<ModelQuantization>;
  if (v.scheme !== QUANTIZATION_SCHEME) {
    return `scheme must be ${JSON.stringify(QUANTIZATION_SCHEME)}, got ${JSON.stringify(v.scheme)}`;
  }
  const acts = v.activations as unknown;
  if (acts === null || typeof acts !== 'object' || Array.isArray(acts)) {
    return 'activations must be an object of [min, max] by layer name';
  }
  if (!Object.hasOwn(acts, 'input')) return 'activations has no range for "input"';
  for (const [name, range] of Object.entries(acts)) {
    if (!isRange(range)) {
      return `activations.${name} must be [min, max] of finite numbers with min <= max, got ${JSON.stringify(range)}`;
    }
  }
  const c = v.calibration as Partial<ModelQuantization['calibration']> | undefined;
  if (
    !c ||
    typeof c.images !== 'string' ||
    typeof c.source !== 'string' ||
    !Number.isInteger(c.count) ||
    (c.count as number) < 1
  ) {
    return `calibration must be { images, count >= 1, source }, got ${JSON.stringify(c)}`;
  }
  if (typeof v.weightsSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.weightsSha256)) {
    return `weightsSha256 must be 64 hex digits, got ${JSON.stringify(v.weightsSha256)}`;
  }
  return null;
}
