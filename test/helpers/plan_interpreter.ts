// A PlanSpec interpreter from tfjs ops on the active backend (fast enough for a 224 GoogLeNet): checks the
// compiler's spec (folding, pads, fusion) independently of the native executor (plan_reference.ts runs it on the
// cpu backend as the executor's reference), and runs where the addon lacks the plan.
import * as tf from '@tensorflow/tfjs';
import type { Pads, PlanNode, PlanSpec } from '../../src/backend/plan_spec';

function padded(x: tf.Tensor4D, [top, left, bottom, right]: Pads, value = 0): tf.Tensor4D {
  if (top + left + bottom + right === 0) return x;
  return tf.pad(
    x,
    [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
    value,
  );
}

function pool(node: Extract<PlanNode, { op: 'pool' }>, x: tf.Tensor4D): tf.Tensor4D {
  if (node.kind === 'max')
    return tf.maxPool(padded(x, node.pads, -Infinity), node.kernel, node.strides, 'valid');
  const sum = tf.mul(
    tf.avgPool(padded(x, node.pads), node.kernel, node.strides, 'valid'),
    node.kernel[0] * node.kernel[1],
  );
  if (!node.excludePadding) return tf.div(sum, node.kernel[0] * node.kernel[1]);
  const ones = tf.ones([1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D;
  const taps = tf.mul(
    tf.avgPool(padded(ones, node.pads), node.kernel, node.strides, 'valid'),
    node.kernel[0] * node.kernel[1],
  );
  return tf.div(sum, taps);
}

function evaluate(node: PlanNode, t: (i: number) => tf.Tensor, batch: number): tf.Tensor {
  switch (node.op) {
    case 'conv': {
      const x = padded(t(node.input) as tf.Tensor4D, node.pads);
      let y: tf.Tensor = tf.conv2d(
        x,
        tf.tensor4d(node.filter, node.filterShape),
        node.strides,
        'valid',
        'NHWC',
        node.dilations,
      );
      if (node.bias) y = tf.add(y, tf.tensor1d(node.bias));
      return node.relu ? tf.relu(y) : y;
    }
    case 'pool':
      return pool(node, t(node.input) as tf.Tensor4D);
    case 'pad':
      return padded(t(node.input) as tf.Tensor4D, node.pads);
    case 'lrn':
      return tf.localResponseNormalization(
        t(node.input) as tf.Tensor4D,
        node.radius,
        node.bias,
        node.alpha,
        node.beta,
      );
    case 'concat':
      return tf.concat(node.inputs.map(t), -1);
    case 'affine': {
      const y = tf.add(tf.mul(t(node.input), tf.tensor1d(node.scale)), tf.tensor1d(node.shift));
      return node.relu ? tf.relu(y) : y;
    }
    case 'flatten':
      return tf.reshape(t(node.input), [batch, -1]);
    case 'dense': {
      let y: tf.Tensor = tf.matMul(
        t(node.input) as tf.Tensor2D,
        tf.tensor2d(node.weights, node.weightsShape),
      );
      if (node.bias) y = tf.add(y, tf.tensor1d(node.bias));
      if (node.activation === 'relu') return tf.relu(y);
      return node.activation === 'softmax' ? tf.softmax(y) : y;
    }
    case 'relu':
      return tf.relu(t(node.input));
    case 'softmax':
      return tf.softmax(t(node.input));
  }
}

/** Every tensor of `spec` (index = tensor id) for `input` ([batch, ...spec.inputShape]), each node's shape checked. */
export function planTensors(spec: PlanSpec, input: tf.Tensor4D): tf.Tensor[] {
  const tensors: tf.Tensor[] = [input];
  const t = (i: number) => {
    if (!(i >= 0 && i < tensors.length))
      throw new Error(`plan reference: tensor ${i} read before it is computed`);
    return tensors[i];
  };
  spec.nodes.forEach((node, i) => {
    const y = evaluate(node, t, spec.batch);
    const want = [spec.batch, ...node.shape];
    if (y.shape.join() !== want.join()) {
      throw new Error(
        `plan reference: node ${i} '${node.name}' (${node.op}) gives ${y.shape} but the spec says ${want}`,
      );
    }
    tensors.push(y);
  });
  return tensors;
}

/** The spec's output for `input`, computed with tfjs ops on the active backend. */
export function runPlanReference(spec: PlanSpec, input: tf.Tensor4D): tf.Tensor {
  return tf.tidy(() => planTensors(spec, input)[spec.output]);
}
