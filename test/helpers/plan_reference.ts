// A PlanSpec evaluated op by op with tfjs on the `cpu` backend: the reference the native executor
// (native/plan.cc) is compared against, and a small builder for hand-written specs.
import type { Pads, PlanNode, PlanSpec } from '../../src/backend/plan_spec';
import { tf } from '../../src/index';
import { seeded } from './onednn';

type NodeBody = PlanNode extends infer N ? (N extends PlanNode ? Omit<N, 'name' | 'shape'> : never) : never;

/** Builds a spec node by node; shapes are the caller's claim, checked by the executor. */
export class SpecBuilder {
  readonly nodes: PlanNode[] = [];
  private seed = 100;

  constructor(readonly inputShape: [number, number, number]) {}

  /** Adds a node and returns the id of the tensor it produces. */
  add(name: string, shape: number[], body: NodeBody): number {
    this.nodes.push({ name, shape, ...body } as PlanNode);
    return this.nodes.length;
  }

  /** Seeded values in [-scale, scale). */
  values(count: number, scale: number): Float32Array {
    return seeded(count, this.seed++).map((v) => v * scale);
  }

  conv(
    name: string,
    input: number,
    shape: number[],
    kernel: [number, number],
    inC: number,
    opts: { strides?: [number, number]; pads?: Pads; dilations?: [number, number]; relu?: boolean } = {},
  ): number {
    const outC = shape[2];
    const fan = kernel[0] * kernel[1] * inC;
    return this.add(name, shape, {
      op: 'conv',
      input,
      filter: this.values(fan * outC, Math.sqrt(3 / fan)),
      filterShape: [kernel[0], kernel[1], inC, outC],
      bias: this.values(outC, 0.1),
      strides: opts.strides ?? [1, 1],
      dilations: opts.dilations ?? [1, 1],
      pads: opts.pads ?? [0, 0, 0, 0],
      relu: opts.relu ?? true,
    });
  }

  spec(batch: number, output = this.nodes.length, extra: Partial<PlanSpec> = {}): PlanSpec {
    return { batch, inputShape: this.inputShape, precision: 'fp32', nodes: this.nodes, output, ...extra };
  }
}

const padded = (x: tf.Tensor4D, p: Pads, value = 0) =>
  tf.pad(
    x,
    [
      [0, 0],
      [p[0], p[2]],
      [p[1], p[3]],
      [0, 0],
    ],
    value,
  );

function node(n: PlanNode, t: (id: number) => tf.Tensor): tf.Tensor {
  switch (n.op) {
    case 'conv': {
      const x = padded(t(n.input) as tf.Tensor4D, n.pads);
      let y: tf.Tensor = tf.conv2d(
        x,
        tf.tensor4d(n.filter, n.filterShape),
        n.strides,
        'valid',
        'NHWC',
        n.dilations,
      );
      if (n.bias) y = y.add(tf.tensor1d(n.bias));
      return n.relu ? tf.relu(y) : y;
    }
    case 'pool': {
      const x = t(n.input) as tf.Tensor4D;
      if (n.kind === 'max') return tf.maxPool(padded(x, n.pads, -Infinity), n.kernel, n.strides, 'valid');
      const sums = tf.avgPool(padded(x, n.pads), n.kernel, n.strides, 'valid');
      if (!n.excludePadding) return sums;
      const ones = padded(tf.onesLike(x), n.pads);
      return sums.div(tf.avgPool(ones, n.kernel, n.strides, 'valid'));
    }
    case 'pad':
      return padded(t(n.input) as tf.Tensor4D, n.pads);
    case 'lrn':
      return tf.localResponseNormalization(t(n.input) as tf.Tensor4D, n.radius, n.bias, n.alpha, n.beta);
    case 'concat':
      return tf.concat(
        n.inputs.map((i) => t(i)),
        3,
      );
    case 'affine': {
      const y = t(n.input).mul(tf.tensor1d(n.scale)).add(tf.tensor1d(n.shift));
      return n.relu ? tf.relu(y) : y;
    }
    case 'flatten': {
      const x = t(n.input);
      return x.reshape([x.shape[0], -1]);
    }
    case 'dense': {
      let y: tf.Tensor = tf.matMul(t(n.input) as tf.Tensor2D, tf.tensor2d(n.weights, n.weightsShape));
      if (n.bias) y = y.add(tf.tensor1d(n.bias));
      if (n.activation === 'relu') return tf.relu(y);
      return n.activation === 'softmax' ? tf.softmax(y) : y;
    }
    case 'relu':
      return tf.relu(t(n.input));
    case 'softmax':
      return tf.softmax(t(n.input));
  }
}

/** Every tensor of the spec (index = tensor id) for `input`, computed with tfjs on the cpu backend. */
export function referenceTensors(spec: PlanSpec, input: Float32Array): Float32Array[] {
  const previous = tf.getBackend();
  tf.setBackend('cpu');
  try {
    return tf.tidy(() => {
      const tensors: tf.Tensor[] = [tf.tensor4d(input, [spec.batch, ...spec.inputShape])];
      for (const n of spec.nodes) tensors.push(node(n, (id) => tensors[id]));
      return tensors.map((x) => x.dataSync() as Float32Array);
    });
  } finally {
    tf.setBackend(previous);
  }
}
