import type { Precision } from '../backend/plan_spec';

/** Calibrated [min, max] of layer outputs, keyed by Keras layer name (`input` for the network input). */
export type ActivationRanges = Record<string, [number, number]>;

export interface PlanOptions {
  /** Images per run; a plan serves exactly this batch size. */
  batch: number;
  precision?: Precision;
  /** int8: the calibrated ranges (a quantized model folder's quantization.json). */
  ranges?: ActivationRanges;
  /** fp32 only: record each tensor's running [min, max] (quantize's calibration reads them with planStats). */
  calibrate?: boolean;
}

/** A model compiled for the native executor: created once per (model, batch, precision), reused. */
export interface InferencePlan {
  readonly batch: number;
  readonly precision: Precision;
  /** Output values per image. */
  readonly outputSize: number;
  /** `input`: NHWC float32 of exactly batch images; returns [batch * outputSize]. */
  run(input: Float32Array): Float32Array;
  dispose(): void;
}

/** The model has a layer (or arrangement) the executor does not run; names the layer. */
export class PlanUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanUnsupportedError';
  }
}
