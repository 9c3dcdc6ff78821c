import type { tf } from '../../src/index';
import { tf as tfjs } from '../../src/index';

/** Element-wise closeness of two tensors (or a tensor and plain numbers), with tfjs's tolerance rule. */
export function expectClose(actual: tf.Tensor, expected: tf.Tensor | number[], epsilon: number): void {
  const values = (t: tf.Tensor | number[]) => (Array.isArray(t) ? t : Array.from(t.dataSync()));
  tfjs.test_util.expectArraysClose(values(actual), values(expected), epsilon);
}
