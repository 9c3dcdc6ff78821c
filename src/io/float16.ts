import * as tf from '@tensorflow/tfjs';
import { weightSpecBytes } from './model_folder';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of a float32, rounded to nearest even (overflow → ±Infinity, NaN kept). */
export function float16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value / 2^-24, from the 24-bit significand.
    if (e < -10) return sign;
    const shift = 14 - e;
    const significand = mantissa | 0x800000;
    let half = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent is correct rounding
  return sign | half;
}

export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float16Bits(values[i]);
  return out;
}

/**
 * Model artifacts with every float32 weight stored as float16 (`quantization: {dtype: 'float16'}` in the
 * weights manifest, as tfjs-converter's --quantize_float16 writes it): half the bytes, and any tfjs loader
 * (ours, tf.loadLayersModel in a browser) dequantises on load. Other dtypes are kept as they are.
 */
export function quantizeFloat16(artifacts: tf.io.ModelArtifacts): tf.io.ModelArtifacts {
  const specs = artifacts.weightSpecs ?? [];
  const data = tf.io.concatenateArrayBuffers([artifacts.weightData ?? new ArrayBuffer(0)].flat());
  const parts: ArrayBuffer[] = [];
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) throw new Error(`quantizeFloat16: weight ${spec.name} is already quantized`);
    const bytes = weightSpecBytes(spec);
    const chunk = data.slice(offset, offset + bytes);
    offset += bytes;
    if (spec.dtype !== 'float32') {
      parts.push(chunk);
      outSpecs.push(spec);
      continue;
    }
    parts.push(toFloat16(new Float32Array(chunk)).buffer as ArrayBuffer);
    outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
  }
  return { ...artifacts, weightSpecs: outSpecs, weightData: tf.io.concatenateArrayBuffers(parts) };
}
