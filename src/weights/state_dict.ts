/** A named tensor as a weights file stores it, framework-neutral: row-major `data` of `shape`. */
export interface NamedArray {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';
  /** float16 as its IEEE half bits; bool as 0/1 bytes. */
  data: Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;
}

/** Tensors by name, in the file's order (a PyTorch state_dict, a Keras weights file, ONNX initialisers). */
export type StateDict = Map<string, NamedArray>;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The value of IEEE half-precision bits. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * A floating-point array's values as float32 (float64 rounds, float16 widens exactly). `where` names the
 * file in errors; an integer or bool array is not weights and is refused.
 */
export function toFloat32(array: NamedArray, where: string): Float32Array {
  switch (array.dtype) {
    case 'float32':
      return array.data as Float32Array;
    case 'float64':
      return Float32Array.from(array.data as Float64Array);
    case 'float16': {
      const bits = array.data as Uint16Array;
      const out = new Float32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = float16Value(bits[i]);
      return out;
    }
    default:
      throw new Error(`${where}: tensor ${array.name} is ${array.dtype}, expected floating-point weights`);
  }
}

/** The first index of a non-finite value, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}
