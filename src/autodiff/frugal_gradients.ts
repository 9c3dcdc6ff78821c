/**
 * tfjs's reverse-mode autodiff (Engine.gradients, which tf.grads, tf.variableGrads, optimizer.minimize and
 * so model.fit all use), with each intermediate gradient released as soon as the node that consumes it is
 * done. tfjs 4.x keeps every intermediate gradient alive until the whole backward pass ends, so a training
 * step holds a gradient for every activation at once: for GoogLeNet that doubled the step's peak memory.
 *
 * Same nodes, same order, same gradient functions and same summation as tfjs (tape.ts's
 * getFilteredNodesXToY and backpropagateGradients, whose semantics this mirrors); only disposal differs.
 * Higher-order gradients (a gradient taken while another tape records) keep tfjs's own implementation.
 */
import * as tf from '@tensorflow/tfjs';

type GradientClosures = Record<string, () => tf.Tensor>;

/** A tfjs tape node (engine.ts's TapeNode, not exported). */
interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: tf.Tensor[]) => GradientClosures;
  saved?: tf.Tensor[];
}

type Gradients = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

/** The engine's members used here (internal in tfjs's typings). */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients: Gradients;
}

/** The nodes on a path from some x to y, in tape order, each with only its inputs that depend on an x. */
function nodesFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      for (const output of node.outputs) fromX.add(output.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((output) => toY.has(output.id))) {
      for (const input of Object.values(node.inputs)) toY.add(input.id);
      nodesToY.add(node.id);
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, input] of Object.entries(node.inputs)) if (fromX.has(input.id)) inputs[name] = input;
    filtered.push({ ...node, inputs });
  }
  return filtered;
}

/**
 * Accumulated gradients by tensor id, counting how many entries hold each gradient tensor (a gradient
 * function may pass one tensor on to several inputs), so a tensor is disposed only when no entry holds it.
 */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();

  constructor(private readonly protectedTensors: Set<tf.Tensor>) {}

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }

  set(id: number, gradient: tf.Tensor): void {
    this.byId.set(id, gradient);
    this.holders.set(gradient, (this.holders.get(gradient) ?? 0) + 1);
  }

  /** Drops the entry for `id` and disposes its tensor if nothing else holds it. */
  release(id: number): void {
    const gradient = this.byId.get(id);
    if (!gradient) return;
    this.byId.delete(id);
    this.disposeIfUnheld(gradient, -1);
  }

  /** Disposes `gradient` unless an entry (after `delta`) or the caller holds it. */
  disposeIfUnheld(gradient: tf.Tensor, delta = 0): void {
    const holders = (this.holders.get(gradient) ?? 0) + delta;
    if (holders > 0) {
      this.holders.set(gradient, holders);
      return;
    }
    this.holders.delete(gradient);
    if (!this.protectedTensors.has(gradient)) gradient.dispose();
  }
}

/** Walks the tape backward from y (gradient dy), releasing each node's output gradients once it is done. */
function backpropagate(
  tape: TapeNode[],
  y: tf.Tensor,
  dy: tf.Tensor,
  userDy: tf.Tensor | undefined,
  tidy: (f: () => tf.Tensor) => tf.Tensor,
): GradientMap {
  const gradients = new GradientMap(new Set(userDy ? [userDy] : []));
  gradients.set(y.id, dy);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (!node.gradient) {
      throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    }
    const dys = node.outputs.map((output) => gradients.get(output.id) ?? null) as tf.Tensor[];
    const inputGradients = node.gradient(dys);
    for (const [name, x] of Object.entries(node.inputs)) {
      if (!(name in inputGradients)) {
        throw new Error(
          `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`,
        );
      }
      const dx = tidy(() => inputGradients[name]());
      if (dx.dtype !== 'float32') {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
        );
      }
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      }
      const current = gradients.get(x.id);
      if (!current) {
        gradients.set(x.id, dx);
      } else {
        const sum = tf.add(current, dx);
        gradients.release(x.id);
        gradients.disposeIfUnheld(dx);
        gradients.set(x.id, sum);
      }
    }
    for (const output of node.outputs) gradients.release(output.id);
  }
  return gradients;
}

let tfjsGradients: Gradients | undefined;

/**
 * Turns the frugal backward pass on (the default once the package is imported) or back to tfjs's own
 * (`false`), e.g. to compare the two.
 */
export function installFrugalGradients(enabled = true): void {
  const engine = tf.engine() as unknown as EngineInternals;
  tfjsGradients ??= engine.gradients;
  engine.gradients = enabled ? frugalGradients : tfjsGradients;
}

const frugalGradients: Gradients = function (
  this: EngineInternals,
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients = false,
) {
  // Nested (higher-order) gradients: the outer tape records this backward pass; leave it to tfjs.
  if (this.state.gradientDepth > 0)
    return (tfjsGradients as Gradients).call(this, f, xs, dy, allowNoGradients);
  tf.util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
  if (dy != null && dy.dtype !== 'float32')
    throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = this.scopedRun(
    () => this.startTape(),
    () => this.endTape(),
    () => this.tidy('forward', f),
  );
  tf.util.assert(y instanceof tf.Tensor, () => 'The result y returned by f() must be a tensor.');
  const tape = nodesFromXsToY(this.state.activeTape ?? [], xs, y);
  if (!allowNoGradients && tape.length === 0 && xs.length > 0) {
    throw new Error(
      'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
    );
  }
  return this.tidy('backward', () => {
    const map = backpropagate(tape, y, dy ?? tf.ones(y.shape), dy, (g) => this.tidy(g));
    const grads = xs.map((x) => map.get(x.id)) as tf.Tensor[];
    for (const node of this.state.activeTape ?? []) for (const tensor of node.saved ?? []) tensor.dispose();
    this.state.activeTape = null;
    return { value: y, grads };
  });
} as Gradients;
