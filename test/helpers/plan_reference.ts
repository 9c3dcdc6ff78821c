// A PlanSpec evaluated with tfjs on the `cpu` backend (plan_interpreter.ts's ops): the reference the native
// executor (native/plan.cc) is compared against, and a small builder for hand-written specs.
import type { Pads, PlanNode, PlanSpec } from '../../src/backend/plan_spec';
import { tf } from '../../src/index';
import { seeded } from './onednn';
import { planTensors } from './plan_interpreter';

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

/** Every tensor of the spec (index = tensor id) for `input`, computed with tfjs on the cpu backend. */
export function referenceTensors(spec: PlanSpec, input: Float32Array): Float32Array[] {
  const previous = tf.getBackend();
  tf.setBackend('cpu');
  try {
    return tf.tidy(() => {
      const tensors = planTensors(spec, tf.tensor4d(input, [spec.batch, ...spec.inputShape]));
      return tensors.map((x) => x.dataSync() as Float32Array);
    });
  } finally {
    tf.setBackend(previous);
  }
}
