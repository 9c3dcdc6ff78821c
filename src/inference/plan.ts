import * as tf from '@tensorflow/tfjs';
import type { NativeAddon, PlanHandle } from '../backend/addon';
import type { OneDnnBackend } from '../backend/onednn_backend';
import type { PlanInfo, PlanSpec, Precision } from '../backend/plan_spec';
import { bf16Unavailable } from '../backend/precision';
import { compileSpec, tensorNames } from './plan_compile';
import type { ActivationRanges, InferencePlan as PlanInterface, PlanOptions } from './plan_types';
import { PlanUnsupportedError } from './plan_types';

export { type ActivationRanges, type PlanOptions, PlanUnsupportedError } from './plan_types';

/** A model compiled for the native executor: created once per (model, batch, precision), reused. */
export interface InferencePlan extends PlanInterface {
  /** Each plan tensor's Keras layer (`input` for tensor 0): the keys of calibrated ranges. */
  readonly tensorNames: readonly string[];
  /** What the executor built: arena size, oneDNN implementations, layout. */
  info(): PlanInfo;
  /** With `calibrate`: [min, max] of each tensor over every run so far, as [min0, max0, min1, max1, ...]. */
  stats(): Float32Array;
}

/** The requested precision cannot run here (no bf16 instructions, no planned path): a runtime error. */
export class PrecisionUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrecisionUnavailableError';
  }
}

/** The addon of the active `onednn` backend when it has the plan executor, else null. */
export function planAddon(): NativeAddon | null {
  if (tf.getBackend() !== 'onednn') return null;
  const native = (tf.findBackend('onednn') as unknown as OneDnnBackend | undefined)?.native;
  return native && typeof native.planCreate === 'function' ? native : null;
}

/** Why `precision` cannot run on the planned path here, or null when it can. */
export function precisionUnavailable(precision: Precision): string | null {
  const native = planAddon();
  if (!native) {
    if (precision === 'fp32') return null;
    return `--precision ${precision} needs the native oneDNN engine's planned inference path (engine in use: ${tf.getBackend()}${tf.getBackend() === 'onednn' ? ', whose addon has no plan executor' : ''})`;
  }
  if (precision === 'bf16') {
    const reason = bf16Unavailable(native.cpuIsa);
    if (reason) return `--precision ${reason}`;
  }
  return null;
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

class NativePlan implements InferencePlan {
  readonly batch: number;
  readonly precision: Precision;
  readonly outputSize: number;
  readonly tensorNames: readonly string[];
  private readonly inputSize: number;
  private handle: PlanHandle | null;

  constructor(
    private readonly native: NativeAddon,
    spec: PlanSpec,
  ) {
    this.batch = spec.batch;
    this.precision = spec.precision;
    this.inputSize = product(spec.inputShape);
    this.outputSize = spec.output === 0 ? this.inputSize : product(spec.nodes[spec.output - 1].shape);
    this.tensorNames = tensorNames(spec);
    this.handle = native.planCreate(spec);
  }

  private live(): PlanHandle {
    if (this.handle === null) throw new Error('this inference plan was disposed');
    return this.handle;
  }

  run(input: Float32Array): Float32Array {
    if (input.length !== this.batch * this.inputSize) {
      throw new Error(
        `plan input has ${input.length} values, expected ${this.batch} images of ${this.inputSize}`,
      );
    }
    const output = new Float32Array(this.batch * this.outputSize);
    this.native.planRun(this.live(), input, output);
    return output;
  }

  info(): PlanInfo {
    return this.native.planInfo(this.live());
  }

  stats(): Float32Array {
    return this.native.planStats(this.live());
  }

  dispose(): void {
    if (this.handle !== null) this.native.planRelease(this.handle);
    this.handle = null;
  }
}

/**
 * The [min, max] a calibrating plan (`calibrate: true`) has seen, keyed by Keras layer name as int8 plans
 * take them (`ranges`); tensors of one layer (a global pool and its flatten) share one range.
 */
export function calibratedRanges(plan: InferencePlan): ActivationRanges {
  const stats = plan.stats();
  const ranges: ActivationRanges = {};
  plan.tensorNames.forEach((name, i) => {
    const [min, max] = [stats[2 * i], stats[2 * i + 1]];
    if (!(Number.isFinite(min) && Number.isFinite(max))) return;
    const seen = ranges[name];
    ranges[name] = seen ? [Math.min(seen[0], min), Math.max(seen[1], max)] : [min, max];
  });
  return ranges;
}

/**
 * Compiles `model` (its first output: see plan_graph.ts) for the native executor of the active `onednn`
 * backend. Throws PlanUnsupportedError naming a layer the executor cannot run, PrecisionUnavailableError
 * where the precision cannot run here, and an Error for int8 without calibrated ranges.
 */
export function compilePlan(model: tf.LayersModel, options: PlanOptions): InferencePlan {
  const { batch, precision = 'fp32', ranges, calibrate } = options;
  if (!(Number.isInteger(batch) && batch >= 1)) {
    throw new Error(`${model.name}: plan batch must be an integer >= 1, got ${JSON.stringify(batch)}`);
  }
  if (precision === 'int8' && !ranges) {
    throw new Error(
      `${model.name}: int8 needs calibrated activation ranges (a model folder written by 'inception quantize')`,
    );
  }
  if (calibrate && precision !== 'fp32')
    throw new Error(`${model.name}: calibration runs in fp32, not ${precision}`);
  const why = precisionUnavailable(precision);
  if (why) throw new PrecisionUnavailableError(why);
  const native = planAddon();
  if (!native) {
    throw new PlanUnsupportedError(
      `${model.name}: the planned path needs the onednn backend with the plan executor (engine in use: ${tf.getBackend()})`,
    );
  }
  const spec = compileSpec(model, { batch, precision, ranges, calibrate });
  try {
    return new NativePlan(native, spec);
  } catch (err) {
    // The executor checks what the compiler cannot know (an op or shape it does not run at this precision).
    const message = `${model.name}: the native executor refused the plan: ${(err as Error).message}`;
    throw precision === 'fp32' ? new PlanUnsupportedError(message) : new PrecisionUnavailableError(message);
  }
}
