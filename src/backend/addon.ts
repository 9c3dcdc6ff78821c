import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../io/package_root';
import {
  type AddonLookup,
  addonCandidates,
  checkAddonFiles,
  chooseAddon,
  machineMissingCpuFlags,
} from './addon_locate';
import type { PlanInfo, PlanSpec } from './plan_spec';

/**
 * The native oneDNN addon (native/*.cc): a source build (`npm run build:native`) or the prebuilt binary.
 * Every function writes its result into the Float32Array passed as its output argument; inputs are tfjs
 * storage, read in place. `window` is the packed geometry from window.ts; `*Id` is the backend's id for a
 * weight tensor (-1: do not cache).
 */
/** A native plan: opaque to JS. */
export type PlanHandle = { readonly __plan: unique symbol };

export interface NativeAddon {
  readonly dnnlVersion: string;
  /** The instruction set oneDNN dispatches to on this CPU (avx2, avx512_core, avx512_core_bf16, ...). */
  readonly cpuIsa: string;
  numThreads(): number;
  /**
   * The precision convolutions and matmuls compute in (native/precision.cc): 'bf16' reads their inputs in
   * bf16 and writes fp32. Throws on a CPU without AVX512_BF16 or AMX. Use backend/precision.ts.
   */
  setComputePrecision(precision: 'fp32' | 'bf16'): void;
  computePrecision(): 'fp32' | 'bf16';
  releaseTensor(id: number): void;
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    window: Int32Array,
    filterId: number,
    relu: boolean,
  ): void;
  conv2dBackpropInput(
    dy: Float32Array,
    filter: Float32Array,
    dx: Float32Array,
    window: Int32Array,
    filterId: number,
  ): void;
  /** With `db`, the bias gradient (dy summed over batch and space) comes out of the same pass. */
  conv2dBackpropFilter(
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
    window: Int32Array,
    db?: Float32Array | null,
  ): void;
  maxPool(x: Float32Array, out: Float32Array, window: Int32Array): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, y: Float32Array, dx: Float32Array, window: Int32Array): void;
  avgPool(x: Float32Array, out: Float32Array, window: Int32Array): void;
  avgPoolGrad(dy: Float32Array, dx: Float32Array, window: Int32Array): void;
  /** out = relu?(a·b + bias) per batch; dims = [batchA, batchB, m, k, n]; a batch of 1 broadcasts. */
  matmul(
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    dims: number[],
    transposeA: boolean,
    transposeB: boolean,
    relu: boolean,
  ): void;
  /** Tensors as `rows` rows; part i holds widths[i] floats of every row, side by side in the whole. */
  concat(inputs: Float32Array[], out: Float32Array, rows: number, widths: number[]): void;
  split(x: Float32Array, outputs: Float32Array[], rows: number, widths: number[]): void;
  /** out[o, i] = sum (or mean) over r of x[o, r, i], x seen as [outer, reduce, inner]. */
  reduceSum(
    x: Float32Array,
    out: Float32Array,
    outer: number,
    reduce: number,
    inner: number,
    mean: boolean,
  ): void;
  /** Element-wise ops (native/eltwise.cc): op codes are listed in kernels/unary_ops.ts and binary_ops.ts. */
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /** out = a op b, broadcast as described by broadcast.ts's BroadcastGeometry. */
  binary(
    op: number,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    shape: Int32Array,
    aStrides: Int32Array,
    bStrides: Int32Array,
  ): void;
  /** LRN across channels (native/lrn.cc), tfjs's semantics; geometry = [pixels, channels, depthRadius]. */
  lrn(
    x: Float32Array,
    out: Float32Array,
    geometry: Int32Array,
    bias: number,
    alpha: number,
    beta: number,
  ): void;
  lrnGrad(
    x: Float32Array,
    y: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    geometry: Int32Array,
    bias: number,
    alpha: number,
    beta: number,
  ): void;
  /** Per-channel batch normalisation (native/batchnorm.cc); each parameter has 1 or `channels` values. */
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    out: Float32Array,
    channels: number,
    epsilon: number,
  ): void;
  /** Training-mode batch norm over all axes but the last (native/batchnorm.cc). */
  batchNormTraining(
    x: Float32Array,
    scale: Float32Array,
    offset: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    channels: number,
    epsilon: number,
  ): void;
  batchNormTrainingGrad(
    dy: Float32Array,
    x: Float32Array,
    scale: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    dx: Float32Array,
    dScale: Float32Array,
    dOffset: Float32Array,
    channels: number,
    epsilon: number,
  ): void;
  /**
   * The planned inference path (native/plan.cc): builds every primitive, reorders every weight and sizes one
   * arena once, for one batch size; `planRun` then runs the whole network with no JS in between.
   * `input` is NHWC [batch, H, W, C] float32, `output` receives [batch, ...shape of spec.output].
   */
  planCreate(spec: PlanSpec): PlanHandle;
  planRun(plan: PlanHandle, input: Float32Array, output: Float32Array): void;
  /** With spec.calibrate: [min0, max0, min1, max1, ...] per tensor over all runs so far. */
  planStats(plan: PlanHandle): Float32Array;
  planInfo(plan: PlanHandle): PlanInfo;
  /** Frees the primitives, weights and arena now (otherwise the GC does, eventually). */
  planRelease(plan: PlanHandle): void;
  /** Fused optimizer updates (native/optimizers.cc); outputs may be the inputs' own arrays (in place). */
  adamUpdate(
    x: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    xOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    coefficients: Float32Array,
  ): void;
  rmsPropUpdate(
    x: Float32Array,
    g: Float32Array,
    meanSquare: Float32Array,
    moment: Float32Array,
    meanGrad: Float32Array | null,
    xOut: Float32Array,
    meanSquareOut: Float32Array,
    momentOut: Float32Array,
    meanGradOut: Float32Array | null,
    coefficients: Float32Array,
  ): void;
  momentumUpdate(
    x: Float32Array,
    g: Float32Array,
    accumulation: Float32Array,
    xOut: Float32Array,
    accumulationOut: Float32Array,
    coefficients: Float32Array,
    nesterov: boolean,
  ): void;
}

let lookup: AddonLookup<NativeAddon> | undefined;

/** The addon, or null when it is not built or cannot load (then `addonLoadError()` says why). */
export function loadAddon(): NativeAddon | null {
  return addonLookup().addon;
}

export function addonLoadError(): string {
  return addonLookup().reason;
}

/** Which addon file loaded and from where (prebuilt or source build), or why none did and what would help. */
export function addonLookup(): AddonLookup<NativeAddon> {
  lookup ??= load();
  return lookup;
}

/**
 * OpenMP threads spin after each primitive (libgomp: ~300k iterations) waiting for the next one, but between
 * native calls JS runs for a while, and the spinning thread takes a core from V8's GC and from other
 * processes; on a loaded 2-core machine that made a 32x32 training step ~1.5-2x slower. A short spin
 * keeps back-to-back primitives fast. Read by libgomp when the addon loads; the user's settings win.
 */
function defaultOpenMpWaiting(): void {
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.GOMP_SPINCOUNT = '20000';
  }
}

function load(): AddonLookup<NativeAddon> {
  defaultOpenMpWaiting();
  const root = packageRoot();
  return chooseAddon(
    {
      candidates: addonCandidates(root),
      missingFlags: machineMissingCpuFlags(),
      inCheckout: fs.existsSync(path.join(root, '.git')),
      platform: `${process.platform}-${process.arch}`,
      root,
    },
    (candidate) => {
      checkAddonFiles(candidate);
      return require(candidate.file) as NativeAddon;
    },
  );
}
