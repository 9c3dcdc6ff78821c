import type * as tf from '@tensorflow/tfjs';
import { PlanUnsupportedError } from './plan_types';

/** The part of the model's graph that computes one output: its tensors in topological order. */
export interface PlannedGraph {
  input: tf.SymbolicTensor;
  output: tf.SymbolicTensor;
  /** Every tensor the output depends on, inputs before the layers that read them (input first). */
  order: tf.SymbolicTensor[];
  /** How many times each tensor (by id) is read by the layers in `order`; the output counts one more. */
  uses: Map<number, number>;
}

/**
 * Walks back from the model's first output. The family's only multi-output models are training models with
 * auxiliary heads ([output, aux_1_output, aux_2_output], see googlenet-paper's inferenceModel): their first
 * output is the classifier, and the auxiliary heads, which inference never reads, are left out.
 */
export function plannedGraph(model: tf.LayersModel): PlannedGraph {
  if (model.inputs.length !== 1) {
    throw new PlanUnsupportedError(
      `${model.name}: ${model.inputs.length} inputs (the plan takes one image input)`,
    );
  }
  const input = model.inputs[0];
  const output = model.outputs[0];
  const order: tf.SymbolicTensor[] = [];
  const uses = new Map<number, number>([[output.id, 1]]);
  const seen = new Set<number>();
  // Iterative post-order DFS: inception-v3 is deep enough that recursion depth matters little, but a
  // long chain of layers in a user's model should not hit the stack limit.
  const stack: [tf.SymbolicTensor, boolean][] = [[output, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop() as [tf.SymbolicTensor, boolean];
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    if (t === input) continue;
    const inputs = t.inputs ?? [];
    if (inputs.length === 0) {
      throw new PlanUnsupportedError(
        `layer '${t.sourceLayer.name}' (${t.sourceLayer.getClassName()}): an input other than the model's`,
      );
    }
    for (const x of inputs) {
      uses.set(x.id, (uses.get(x.id) ?? 0) + 1);
      if (!seen.has(x.id)) stack.push([x, false]);
    }
  }
  return { input, output, order, uses };
}
