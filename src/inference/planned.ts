import type * as tf from '@tensorflow/tfjs';
import { inPlaceWriteCount } from '../backend/in_place';
import type { Precision } from '../backend/plan_spec';
import {
  compilePlan,
  type InferencePlan,
  PrecisionUnavailableError,
  planAddon,
  precisionUnavailable,
} from './plan';
import { type ActivationRanges, PlanUnsupportedError } from './plan_types';

/** How inference runs a model: the precision of the planned path and, for int8, its calibrated ranges. */
export interface InferenceOptions {
  /** Default fp32. bf16 and int8 need the planned path (onednn engine); they never fall back to tfjs. */
  precision?: Precision;
  /** int8: calibrated ranges by layer name (a quantized model folder's). */
  ranges?: ActivationRanges;
}

/**
 * Batch sizes the planned path compiles: powers of two up to this. A batch of n runs as the binary
 * decomposition of n (13 = 8 + 4 + 1; above the cap, chunks of the cap), so a model holds at most
 * log2(cap) + 1 plans per precision however many distinct sizes serve's batcher or a last partial batch
 * produce, and never recompiles for a new size; a single image always runs on the batch-1 plan.
 */
export const MAX_PLAN_BATCH = 64;

interface CachedPlan {
  plan: InferencePlan;
  ranges?: ActivationRanges;
  /** The weights' tensors when it was compiled, and the in-place write count: either changing stales it. */
  weights: object[];
  writes: number;
}

const plans = new WeakMap<tf.LayersModel, Map<string, CachedPlan>>();
/** Models the plan cannot run, with the reason (compiled once per model; the structure does not change). */
const unsupported = new WeakMap<tf.LayersModel, string>();

function weightTensors(model: tf.LayersModel): object[] {
  return model.weights.map((w) => w.read().dataId);
}

function fresh(entry: CachedPlan, model: tf.LayersModel, ranges?: ActivationRanges): boolean {
  if (entry.writes !== inPlaceWriteCount() || entry.ranges !== ranges) return false;
  const now = model.weights;
  return now.length === entry.weights.length && now.every((w, i) => w.read().dataId === entry.weights[i]);
}

/**
 * The plan of (model, batch, precision), compiled on first use and reused until the model's weights
 * change: a new tensor in any weight variable (assign, setWeights, loading weights, tfjs optimizers) or
 * any in-place write (the fused optimizers) recompiles it on the next call.
 */
export function planFor(
  model: tf.LayersModel,
  batch: number,
  precision: Precision = 'fp32',
  ranges?: ActivationRanges,
): InferencePlan {
  let byKey = plans.get(model);
  if (!byKey) {
    byKey = new Map();
    plans.set(model, byKey);
  }
  const key = `${batch}/${precision}`;
  const cached = byKey.get(key);
  if (cached && fresh(cached, model, ranges)) return cached.plan;
  cached?.plan.dispose();
  byKey.delete(key);
  const writes = inPlaceWriteCount();
  const weights = weightTensors(model);
  const plan = compilePlan(model, { batch, precision, ranges });
  byKey.set(key, { plan, ranges, weights, writes });
  return plan;
}

/**
 * Fails now, with the one-line reason, where `options` cannot run `model`: a precision this machine or
 * engine lacks, int8 without ranges, or (bf16, int8) a model the plan cannot run, which has no tfjs
 * fallback. For those precisions it compiles the batch-1 plan, which the first image then reuses.
 */
export function checkPrecision(model: tf.LayersModel, options: InferenceOptions = {}): void {
  const precision = options.precision ?? 'fp32';
  if (precision === 'fp32') return;
  const why = precisionUnavailable(precision);
  if (why) throw new PrecisionUnavailableError(why);
  try {
    planFor(model, 1, precision, options.ranges);
  } catch (err) {
    if (err instanceof PlanUnsupportedError) {
      throw new PrecisionUnavailableError(`--precision ${precision}: ${err.message}`);
    }
    throw err;
  }
}

/** Frees every plan compiled for `model` now (they are otherwise freed with the model by the GC). */
export function disposePlans(model: tf.LayersModel): void {
  for (const entry of plans.get(model)?.values() ?? []) entry.plan.dispose();
  plans.delete(model);
}

/** The chunk sizes a batch of n runs as (see MAX_PLAN_BATCH). */
export function planBatches(n: number): number[] {
  const sizes: number[] = [];
  let left = n;
  while (left > 0) {
    const size = Math.min(MAX_PLAN_BATCH, 2 ** Math.floor(Math.log2(left)));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/** Runs `input` (n NHWC images) through the model's plans; [n * outputSize] values. */
function runPlans(
  model: tf.LayersModel,
  input: Float32Array,
  n: number,
  options: InferenceOptions,
): Float32Array {
  const imageSize = input.length / n;
  const sizes = planBatches(n);
  // One plan covers the whole batch (always so for a single image): its output is already the answer.
  if (sizes.length === 1) return planFor(model, n, options.precision, options.ranges).run(input);
  let output: Float32Array | null = null;
  let done = 0;
  for (const size of sizes) {
    const plan = planFor(model, size, options.precision, options.ranges);
    const part = plan.run(input.subarray(done * imageSize, (done + size) * imageSize));
    output ??= new Float32Array(n * plan.outputSize);
    output.set(part, done * plan.outputSize);
    done += size;
  }
  return output as Float32Array;
}

const printToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
/** Prints the one line per model that falls back to tfjs (a library user sees why the fast path is off). */
let fallbackNotice = printToStderr;

/** Where the fallback notice goes (tests capture it); without an argument, stderr again. */
export function setFallbackNotice(print: (line: string) => void = printToStderr): void {
  fallbackNotice = print;
}

/**
 * The model's output for a batch of n NHWC images through the planned path ([n * outputs]), or null where
 * inference should run on tfjs. `values` gives the batch's values; it is only called on the planned path, so
 * a tfjs tensor is not read back when the model runs on tfjs anyway.
 * Null (or a throw) for: not the onednn engine, an addon without the executor, or a model with a layer the plan cannot run (one
 * notice per model). bf16 and int8 have no tfjs fallback: there, those cases throw.
 */
export function plannedOutput(
  model: tf.LayersModel,
  values: () => Float32Array,
  n: number,
  options: InferenceOptions = {},
): Float32Array | null {
  const precision = options.precision ?? 'fp32';
  if (precision === 'fp32' && !planAddon()) return null;
  const reason = unsupported.get(model);
  if (reason !== undefined) {
    if (precision === 'fp32') return null;
    throw new PrecisionUnavailableError(`--precision ${precision}: ${reason}`);
  }
  try {
    return runPlans(model, values(), n, options);
  } catch (err) {
    if (!(err instanceof PlanUnsupportedError)) throw err;
    unsupported.set(model, err.message);
    if (precision !== 'fp32') throw new PrecisionUnavailableError(`--precision ${precision}: ${err.message}`);
    fallbackNotice(
      `inception-net: ${model.name} runs on tfjs layer by layer, not the planned path: ${err.message}`,
    );
    return null;
  }
}
