/**
 * The contract between the plan compiler (src/inference/plan.ts: tf.LayersModel -> PlanSpec) and the native
 * executor (native/plan.cc: PlanSpec -> oneDNN primitives, one arena). A spec is plain data: tensors are
 * numbered, tensor 0 is the network input (NHWC float32 [batch, H, W, C]) and node i produces tensor i + 1.
 * Nodes come in topological order. Shapes are NHWC [H, W, C] (or [F] once flattened) without the batch.
 */

export type Precision = 'fp32' | 'bf16' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'int8'];

/** [top, left, bottom, right] */
export type Pads = [number, number, number, number];

interface NodeBase {
  /** The Keras layer (or fused group's last layer) this node computes: for errors, stats and ranges. */
  name: string;
  /** Output shape the compiler expects; the executor checks its own against it. */
  shape: number[];
}

export type PlanNode = NodeBase &
  (
    | {
        op: 'conv';
        input: number;
        /** HWIO, [kh, kw, inC, outC]; any BatchNormalization after it already folded in. */
        filter: Float32Array;
        filterShape: [number, number, number, number];
        bias: Float32Array | null;
        strides: [number, number];
        dilations: [number, number];
        pads: Pads;
        relu: boolean;
      }
    | {
        op: 'pool';
        kind: 'max' | 'avg';
        input: number;
        kernel: [number, number];
        strides: [number, number];
        pads: Pads;
        /** avg only: divide by the taps inside the input (tfjs 'same') rather than the whole window. */
        excludePadding: boolean;
      }
    /** Zero padding (ZeroPadding2D that the compiler could not merge into the next conv or pool). */
    | { op: 'pad'; input: number; pads: Pads }
    /** tfjs/Keras LRN across channels: x / (bias + alpha * sum over c-radius..c+radius of x^2)^beta. */
    | { op: 'lrn'; input: number; radius: number; bias: number; alpha: number; beta: number }
    /** Channel concatenation, in input order. */
    | { op: 'concat'; inputs: number[] }
    /** Per-channel y = x * scale + shift (a BatchNormalization or ChannelAffine that is not foldable). */
    | { op: 'affine'; input: number; scale: Float32Array; shift: Float32Array; relu: boolean }
    /** [H, W, C] -> [H * W * C] in NHWC order (Keras Flatten on channels-last). */
    | { op: 'flatten'; input: number }
    /** y = x · weights + bias; weights [in, out] row-major as tfjs stores a Dense kernel. */
    | {
        op: 'dense';
        input: number;
        weights: Float32Array;
        weightsShape: [number, number];
        bias: Float32Array | null;
        activation: 'linear' | 'relu' | 'softmax';
      }
    | { op: 'relu'; input: number }
    | { op: 'softmax'; input: number }
  );

export interface PlanSpec {
  batch: number;
  /** [H, W, C] of tensor 0. */
  inputShape: [number, number, number];
  precision: Precision;
  nodes: PlanNode[];
  /** The tensor the plan returns, [batch, ...shape] float32. */
  output: number;
  /**
   * int8 only: the calibrated [min, max] of each tensor (index = tensor id; null where none was measured),
   * from which the executor derives activation scales (weights get per-channel scales from the filter).
   */
  ranges?: ([number, number] | null)[];
  /** fp32 only: record each tensor's running [min, max] over every run (read back with planStats). */
  calibrate?: boolean;
}

/** What the executor reports about a created plan (planInfo). */
export interface PlanInfo {
  /** Bytes of the intermediate-activation arena. */
  arenaBytes: number;
  /** The oneDNN implementation each primitive got (e.g. `jit:avx512_core`, `brgconv:avx512_core`). */
  primitives: string[];
  /** The activation layout chosen (e.g. `nChw16c`). */
  layout: string;
}
