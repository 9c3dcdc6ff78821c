import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tf } from '../src/index';
import {
  assertSameOnBackends,
  countNativeCalls,
  runOn,
  seededTensor,
  skipWithoutAddon,
} from './helpers/onednn';

interface Case {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  kernel: number;
  outChannels: number;
  stride: number;
  pad: 'same' | 'valid';
  dilation?: number;
}

// Odd shapes: batch 1 and 3, non-square inputs, channels not a multiple of 8, kernels 1/3/5/7, both paddings;
// kernels on a 1x1 map (only the centre tap in bounds: run as one gemm on that tap).
const CASES: Case[] = [
  { batch: 3, height: 1, width: 1, inChannels: 13, kernel: 3, outChannels: 11, stride: 1, pad: 'same' },
  { batch: 1, height: 1, width: 1, inChannels: 6, kernel: 5, outChannels: 9, stride: 2, pad: 'same' },
  { batch: 1, height: 9, width: 11, inChannels: 3, kernel: 3, outChannels: 5, stride: 1, pad: 'same' },
  { batch: 3, height: 10, width: 7, inChannels: 5, kernel: 3, outChannels: 13, stride: 2, pad: 'same' },
  { batch: 3, height: 8, width: 8, inChannels: 12, kernel: 1, outChannels: 7, stride: 1, pad: 'valid' },
  { batch: 1, height: 13, width: 9, inChannels: 6, kernel: 5, outChannels: 10, stride: 2, pad: 'valid' },
  { batch: 3, height: 15, width: 12, inChannels: 3, kernel: 7, outChannels: 9, stride: 2, pad: 'same' },
  { batch: 1, height: 12, width: 10, inChannels: 17, kernel: 1, outChannels: 24, stride: 2, pad: 'same' },
  {
    batch: 3,
    height: 11,
    width: 11,
    inChannels: 4,
    kernel: 3,
    outChannels: 6,
    stride: 1,
    pad: 'same',
    dilation: 2,
  },
];

const describeCase = (c: Case) =>
  `${c.batch}x${c.height}x${c.width}x${c.inChannels} k${c.kernel} -> ${c.outChannels}, stride ${c.stride}, ${c.pad}` +
  (c.dilation ? `, dilation ${c.dilation}` : '');

function inputs(c: Case) {
  const x = seededTensor([c.batch, c.height, c.width, c.inChannels], 1);
  const filter = seededTensor([c.kernel, c.kernel, c.inChannels, c.outChannels], 2);
  const bias = seededTensor([c.outChannels], 3);
  return { x, filter, bias };
}

const conv = (c: Case, x: tf.Tensor, filter: tf.Tensor) =>
  tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation ?? 1);

describe('onednn Conv2D family matches cpu', { skip: skipWithoutAddon }, () => {
  for (const c of CASES) {
    test(`Conv2D forward ${describeCase(c)}`, () => {
      assertSameOnBackends('conv2d', () => {
        const { x, filter } = inputs(c);
        return conv(c, x, filter);
      });
    });

    test(`FusedConv2D bias+relu and bias-only ${describeCase(c)}`, () => {
      assertSameOnBackends('fused conv2d', () => {
        const { x, filter, bias } = inputs(c);
        const fused = (activation: 'relu' | 'linear') =>
          tf.fused.conv2d({
            x: x as tf.Tensor4D,
            filter: filter as tf.Tensor4D,
            bias,
            strides: c.stride,
            pad: c.pad,
            dilations: c.dilation ?? 1,
            activation,
          });
        return [fused('relu'), fused('linear')];
      });
    });

    const noGradient = c.dilation ? 'tfjs defines no conv2d gradient for dilation > 1' : false;
    test(`Conv2D gradients (Conv2DBackpropInput, Conv2DBackpropFilter) ${describeCase(c)}`, {
      skip: noGradient,
    }, () => {
      assertSameOnBackends('conv2d grads', () => {
        const { x, filter } = inputs(c);
        // A non-uniform upstream gradient: weight the output by fixed values before summing.
        const outShape = conv(c, x, filter).shape;
        const weights = seededTensor(outShape, 4);
        const [dx, dFilter] = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(c, a, b).mul(weights).sum())([
          x,
          filter,
        ]);
        return [dx, dFilter];
      });
    });
  }

  test('the native kernels run (no silent fallback to cpu)', () => {
    const c = CASES[1];
    const forward = countNativeCalls('conv2d', () =>
      runOn('onednn', () => conv(c, inputs(c).x, inputs(c).filter)),
    );
    assert.equal(forward, 1);
    const backward = countNativeCalls('conv2dBackpropFilter', () =>
      runOn('onednn', () => tf.grad((f: tf.Tensor) => conv(c, inputs(c).x, f).sum())(inputs(c).filter)),
    );
    assert.equal(backward, 1);
  });

  test('a cached reordered filter is dropped when the filter tensor is disposed', () => {
    const c = CASES[0];
    tf.setBackend('onednn');
    const { x, filter } = inputs(c);
    const first = conv(c, x, filter);
    const expected = first.dataSync().slice();
    filter.dispose();
    // New filter values, possibly at the same storage address: the result must follow them.
    const other = seededTensor(filter.shape, 9);
    const second = conv(c, x, other).dataSync();
    const reference = runOn('cpu', () => conv(c, x, other))[0];
    assert.ok(Math.abs(second[0] - reference[0]) < 1e-4);
    assert.notDeepEqual(Array.from(second), Array.from(expected));
    tf.dispose([x, first, other]);
  });
});
