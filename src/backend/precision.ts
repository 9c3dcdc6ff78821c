import * as tf from '@tensorflow/tfjs';
import { loadAddon, type NativeAddon } from './addon';
import type { Precision } from './plan_spec';

/**
 * The precision the onednn engine's convolutions and matrix products compute in, process-wide, as PyTorch's
 * CPU autocast has it: 'bf16' reads their inputs (activations, weights, incoming gradients) in bf16 and
 * writes fp32, so weights, gradients, optimizer state and every other kernel stay fp32.
 */
export type ComputePrecision = Extract<Precision, 'fp32' | 'bf16'>;
export const COMPUTE_PRECISIONS: readonly ComputePrecision[] = ['fp32', 'bf16'];

/** oneDNN ISA names (addon.cpuIsa) whose kernels compute in bf16: AVX512_BF16, and AMX (which implies it). */
const BF16_ISAS = ['avx512_core_bf16', 'avx512_core_amx'];

/** Why a CPU whose oneDNN ISA is `isa` cannot compute in bf16, or null when it can. */
export function bf16Unavailable(isa: string): string | null {
  return BF16_ISAS.includes(isa) ? null : `bf16: this CPU (${isa}) lacks AVX512_BF16 and AMX`;
}

/** Why this process cannot compute in `precision` (not the onednn engine, a CPU without bf16), or null. */
export function computePrecisionUnavailable(precision: ComputePrecision): string | null {
  if (!COMPUTE_PRECISIONS.includes(precision)) {
    return `precision must be ${COMPUTE_PRECISIONS.join(' or ')}, got ${JSON.stringify(precision)}`;
  }
  if (precision === 'fp32') return null;
  const addon = loadAddon();
  const backend = tf.getBackend();
  if (!addon || backend !== 'onednn')
    return `${precision}: needs the onednn engine (the backend is ${backend})`;
  return bf16Unavailable(addon.cpuIsa);
}

/** The addon when it is the engine in use: other backends always compute in fp32. */
function engineAddon(): NativeAddon | null {
  return tf.getBackend() === 'onednn' ? loadAddon() : null;
}

/** The engine's current compute precision ('fp32' on other backends). */
export function computePrecision(): ComputePrecision {
  return engineAddon()?.computePrecision() ?? 'fp32';
}

/** Sets the engine's compute precision; throws, changing nothing, when this process cannot use it. */
export function setComputePrecision(precision: ComputePrecision): void {
  const reason = computePrecisionUnavailable(precision);
  if (reason) throw new Error(reason);
  engineAddon()?.setComputePrecision(precision);
}

/** Runs `body` with the engine computing in `precision`, then restores the precision it had before. */
export async function withComputePrecision<T>(
  precision: ComputePrecision,
  body: () => Promise<T>,
): Promise<T> {
  const previous = computePrecision();
  setComputePrecision(precision);
  try {
    return await body();
  } finally {
    engineAddon()?.setComputePrecision(previous);
  }
}
