import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadAddon, type NativeAddon } from '../src/backend/addon';
import type { PlanSpec } from '../src/backend/plan_spec';
import { assertClose, seeded, skipWithoutAddon } from './helpers/onednn';
import { referenceTensors, SpecBuilder } from './helpers/plan_reference';

const addon = loadAddon() as NativeAddon;

/**
 * Odd sizes on purpose: a 13x11 input with 5 channels, a stride-2 convolution with asymmetric pads, a
 * 3-branch concat whose branches are whole 16-channel blocks (written in place at batch 1) and one that is
 * not (5 + 7 channels: copied), a dilated convolution without ReLU, LRN, affine, zero padding, both kinds
 * of average pooling, flatten, dense layers with relu and softmax, standalone relu and softmax.
 */
function branchy(): SpecBuilder {
  const b = new SpecBuilder([13, 11, 5]);
  const c1 = b.conv('c1', 0, [6, 6, 7], [3, 3], 5, { strides: [2, 2], pads: [1, 1, 0, 1] }); // 1
  const a = b.conv('a', c1, [6, 6, 16], [1, 1], 7); // 2
  const reduce = b.conv('reduce', c1, [6, 6, 8], [1, 1], 7); // 3
  const wide = b.conv('wide', reduce, [6, 6, 32], [3, 3], 8, { pads: [1, 1, 1, 1] }); // 4
  const pool = b.add('pool', [6, 6, 7], {
    op: 'pool',
    kind: 'max',
    input: c1,
    kernel: [3, 3],
    strides: [1, 1],
    pads: [1, 1, 1, 1],
    excludePadding: false,
  }); // 5
  const proj = b.conv('proj', pool, [6, 6, 16], [1, 1], 7); // 6
  const mixed = b.add('mixed', [6, 6, 64], { op: 'concat', inputs: [a, wide, proj] }); // 7
  const dilated = b.conv('dilated', mixed, [6, 6, 5], [3, 3], 64, {
    pads: [2, 2, 2, 2],
    dilations: [2, 2],
    relu: false,
  }); // 8
  const odd = b.add('odd', [6, 6, 12], { op: 'concat', inputs: [dilated, pool] }); // 9
  const lrn = b.add('lrn', [6, 6, 12], {
    op: 'lrn',
    input: odd,
    radius: 2,
    bias: 2,
    alpha: 0.05,
    beta: 0.75,
  }); // 10
  const affine = b.add('affine', [6, 6, 12], {
    op: 'affine',
    input: lrn,
    scale: b.values(12, 2),
    shift: b.values(12, 0.5),
    relu: true,
  }); // 11
  const pad = b.add('pad', [9, 7, 12], { op: 'pad', input: affine, pads: [1, 0, 2, 1] }); // 12
  const avgEx = b.add('avg_ex', [5, 4, 12], {
    op: 'pool',
    kind: 'avg',
    input: pad,
    kernel: [2, 2],
    strides: [2, 2],
    pads: [0, 0, 1, 1],
    excludePadding: true,
  }); // 13
  const avgIn = b.add('avg_in', [5, 4, 12], {
    op: 'pool',
    kind: 'avg',
    input: avgEx,
    kernel: [3, 3],
    strides: [1, 1],
    pads: [1, 1, 1, 1],
    excludePadding: false,
  }); // 14
  const flat = b.add('flat', [240], { op: 'flatten', input: avgIn }); // 15
  const fc = b.add('fc', [10], {
    op: 'dense',
    input: flat,
    weights: b.values(2400, 0.2),
    weightsShape: [240, 10],
    bias: b.values(10, 0.1),
    activation: 'relu',
  }); // 16
  b.add('probs', [6], {
    op: 'dense',
    input: fc,
    weights: b.values(60, 0.5),
    weightsShape: [10, 6],
    bias: null,
    activation: 'softmax',
  }); // 17
  b.add('relu', [6, 6, 5], { op: 'relu', input: dilated }); // 18
  b.add('softmax', [10], { op: 'softmax', input: fc }); // 19
  return b;
}

/** A 1x1 map at the head (global average pooling), `channels` wide: flatten is a view when blocks fill. */
function globalPoolHead(channels: number): SpecBuilder {
  const b = new SpecBuilder([7, 7, 3]);
  const c = b.conv('c', 0, [7, 7, channels], [3, 3], 3, { pads: [1, 1, 1, 1] });
  const gap = b.add('gap', [1, 1, channels], {
    op: 'pool',
    kind: 'avg',
    input: c,
    kernel: [7, 7],
    strides: [1, 1],
    pads: [0, 0, 0, 0],
    excludePadding: false,
  });
  const flat = b.add('flat', [channels], { op: 'flatten', input: gap });
  b.add('logits', [4], {
    op: 'dense',
    input: flat,
    weights: b.values(channels * 4, 0.3),
    weightsShape: [channels, 4],
    bias: b.values(4, 0.1),
    activation: 'linear',
  });
  return b;
}

/** An Inception module on whole 16-channel blocks, as GoogLeNet's: no layer should need a reference kernel. */
function inceptionModule(): SpecBuilder {
  const b = new SpecBuilder([16, 16, 3]);
  const stem = b.conv('stem', 0, [8, 8, 32], [3, 3], 3, { strides: [2, 2], pads: [0, 0, 1, 1] });
  const norm = b.add('norm', [8, 8, 32], {
    op: 'lrn',
    input: stem,
    radius: 2,
    bias: 1,
    alpha: 1e-4,
    beta: 0.75,
  });
  const one = b.conv('1x1', norm, [8, 8, 16], [1, 1], 32);
  const r3 = b.conv('3x3_reduce', norm, [8, 8, 16], [1, 1], 32);
  const c3 = b.conv('3x3', r3, [8, 8, 32], [3, 3], 16, { pads: [1, 1, 1, 1] });
  const r5 = b.conv('5x5_reduce', norm, [8, 8, 16], [1, 1], 32);
  const c5 = b.conv('5x5', r5, [8, 8, 16], [5, 5], 16, { pads: [2, 2, 2, 2] });
  const pool = b.add('pool', [8, 8, 32], {
    op: 'pool',
    kind: 'max',
    input: norm,
    kernel: [3, 3],
    strides: [1, 1],
    pads: [1, 1, 1, 1],
    excludePadding: false,
  });
  const proj = b.conv('pool_proj', pool, [8, 8, 16], [1, 1], 32);
  const mixed = b.add('output', [8, 8, 80], { op: 'concat', inputs: [one, c3, c5, proj] });
  const gap = b.add('gap', [1, 1, 80], {
    op: 'pool',
    kind: 'avg',
    input: mixed,
    kernel: [8, 8],
    strides: [1, 1],
    pads: [0, 0, 0, 0],
    excludePadding: false,
  });
  const flat = b.add('flat', [80], { op: 'flatten', input: gap });
  b.add('probs', [10], {
    op: 'dense',
    input: flat,
    weights: b.values(800, 0.2),
    weightsShape: [80, 10],
    bias: b.values(10, 0.1),
    activation: 'softmax',
  });
  return b;
}

/** ranges for an int8 spec: each tensor's [min, max] from an fp32 calibration run on `input`. */
function calibratedRanges(spec: PlanSpec, input: Float32Array): [number, number][] {
  const plan = addon.planCreate({ ...spec, precision: 'fp32', calibrate: true });
  addon.planRun(plan, input, new Float32Array(outputSize(spec)));
  const stats = addon.planStats(plan);
  addon.planRelease(plan);
  return Array.from({ length: spec.nodes.length + 1 }, (_, t) => [stats[2 * t], stats[2 * t + 1]]);
}

function inputFor(spec: PlanSpec, seed = 7): Float32Array {
  return seeded(spec.batch * spec.inputShape.reduce((a, b) => a * b, 1), seed);
}

function outputSize(spec: PlanSpec): number {
  const shape = spec.output === 0 ? spec.inputShape : spec.nodes[spec.output - 1].shape;
  return spec.batch * shape.reduce((a, b) => a * b, 1);
}

function runPlan(spec: PlanSpec, input: Float32Array): Float32Array {
  const plan = addon.planCreate(spec);
  try {
    const output = new Float32Array(outputSize(spec));
    addon.planRun(plan, input, output);
    return output;
  } finally {
    addon.planRelease(plan);
  }
}

const hasBf16 = () => /bf16|amx/.test(addon.cpuIsa);

describe('native plan (planCreate / planRun)', { skip: skipWithoutAddon }, () => {
  for (const batch of [1, 3]) {
    test(`fp32 matches tfjs on every node of a branchy network, batch ${batch}`, () => {
      const b = branchy();
      const input = inputFor(b.spec(batch));
      const expected = referenceTensors(b.spec(batch), input);
      // Every tensor as the output in turn: each node's result is compared, not only the head's.
      for (let t = 1; t <= b.nodes.length; t++) {
        const spec = b.spec(batch, t);
        assertClose(runPlan(spec, input), expected[t], `tensor ${t} (${b.nodes[t - 1].name})`, 1e-4);
      }
    });
  }

  for (const channels of [32, 20]) {
    test(`global pooling, flatten and dense head, ${channels} channels`, () => {
      const spec = globalPoolHead(channels).spec(2);
      const input = inputFor(spec);
      assertClose(runPlan(spec, input), referenceTensors(spec, input)[spec.output], 'logits', 1e-4);
    });
  }

  test('a plan reused 3 times gives identical outputs; planInfo reports layout, primitives and a shared arena', () => {
    const b = branchy();
    const spec = b.spec(1);
    const plan = addon.planCreate(spec);
    const outputs = [1, 2, 3].map(() => {
      const output = new Float32Array(outputSize(spec));
      addon.planRun(plan, inputFor(spec), output);
      return output;
    });
    for (const output of outputs) {
      assert.deepEqual(output, outputs[0]);
      assert.ok(output.every(Number.isFinite));
    }
    const info = addon.planInfo(plan);
    assert.match(info.layout, /^(nChw16c|nChw8c|nhwc)$/);
    assert.ok(info.primitives.length >= b.nodes.length - 2, `${info.primitives.length} primitives`);
    assert.ok(info.primitives.every((p) => typeof p === 'string' && p.length > 0));
    // Liveness: the arena is smaller than all the tensors side by side.
    const all = b.nodes.reduce((sum, n) => sum + n.shape.reduce((a, c) => a * c, 4), 0);
    assert.ok(info.arenaBytes > 0 && info.arenaBytes < all, `arena ${info.arenaBytes} bytes, tensors ${all}`);
    addon.planRelease(plan);
  });

  for (const batch of [1, 4]) {
    test(`an Inception module gets no reference kernels and matches tfjs in each precision, batch ${batch}`, (t) => {
      const b = inceptionModule();
      const spec = b.spec(batch);
      const input = inputFor(spec);
      const expected = referenceTensors(spec, input)[spec.output];
      const precisions: [PlanSpec['precision'], number][] = [
        ['fp32', 1e-4],
        ['int8', 0.03],
      ];
      if (hasBf16()) precisions.push(['bf16', 2e-2]);
      else t.diagnostic(`bf16 not checked: this CPU (${addon.cpuIsa}) lacks AVX512_BF16 and AMX`);
      for (const [precision, tolerance] of precisions) {
        const ranges = precision === 'int8' ? calibratedRanges(spec, input) : undefined;
        const plan = addon.planCreate({ ...spec, precision, ranges });
        const info = addon.planInfo(plan);
        const output = new Float32Array(outputSize(spec));
        addon.planRun(plan, input, output);
        addon.planRelease(plan);
        assert.deepEqual(
          info.primitives.filter((p) => p.includes('ref')),
          [],
          `${precision}: ${info.primitives.join(' ')}`,
        );
        assertClose(output, expected, `${precision} probabilities`, tolerance);
      }
    });
  }

  test('1x1 convolutions reading one tensor run as one at batch 1, with the same result', () => {
    const spec = inceptionModule().spec(1);
    const input = inputFor(spec);
    const runWith = (merge: string) => {
      const previous = process.env.INCEPTION_PLAN_MERGE;
      process.env.INCEPTION_PLAN_MERGE = merge;
      try {
        const plan = addon.planCreate(spec);
        const output = new Float32Array(outputSize(spec));
        addon.planRun(plan, input, output);
        const count = addon.planInfo(plan).primitives.length;
        addon.planRelease(plan);
        return { output, count };
      } finally {
        if (previous === undefined) delete process.env.INCEPTION_PLAN_MERGE;
        else process.env.INCEPTION_PLAN_MERGE = previous;
      }
    };
    const merged = runWith('1');
    const separate = runWith('0');
    if (addon.cpuIsa.startsWith('avx2') || addon.cpuIsa.startsWith('avx512')) {
      assert.equal(merged.count, separate.count - 1, '3x3_reduce and 5x5_reduce as one primitive');
    }
    assertClose(merged.output, separate.output, 'merged vs separate', 1e-5);
  });

  test('calibrate: planStats holds each tensor min and max over all runs', () => {
    const b = branchy();
    const spec = b.spec(2, b.nodes.length, { calibrate: true });
    const plan = addon.planCreate(spec);
    const inputs = [inputFor(spec, 1), inputFor(spec, 2).map((v) => v * 3)];
    const output = new Float32Array(outputSize(spec));
    for (const input of inputs) addon.planRun(plan, input, output);
    const stats = addon.planStats(plan);
    addon.planRelease(plan);
    assert.equal(stats.length, 2 * (b.nodes.length + 1));
    const references = inputs.map((input) => referenceTensors(spec, input));
    for (let t = 0; t <= b.nodes.length; t++) {
      const values = references.flatMap((r) => Array.from(r[t]));
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      const scale = Math.max(Math.abs(lo), Math.abs(hi), 1e-6);
      assert.ok(Math.abs(stats[2 * t] - lo) <= 1e-4 * scale, `tensor ${t} min ${stats[2 * t]} vs ${lo}`);
      assert.ok(
        Math.abs(stats[2 * t + 1] - hi) <= 1e-4 * scale,
        `tensor ${t} max ${stats[2 * t + 1]} vs ${hi}`,
      );
    }
  });

  test('bf16 matches fp32 within bf16 rounding', (t) => {
    if (!hasBf16()) {
      t.skip(`this CPU (${addon.cpuIsa}) lacks AVX512_BF16 and AMX`);
      return;
    }
    const b = branchy();
    for (const output of [7, 16, 17]) {
      const spec = b.spec(2, output);
      const input = inputFor(spec);
      const actual = runPlan({ ...spec, precision: 'bf16' }, input);
      assertClose(actual, referenceTensors(spec, input)[output], `bf16 tensor ${output}`, 3e-2);
    }
  });

  test('bf16 on a CPU without it is a one-line error', (t) => {
    if (hasBf16()) {
      t.skip(`this CPU (${addon.cpuIsa}) has bf16`);
      return;
    }
    assert.throws(
      () => addon.planCreate({ ...branchy().spec(1), precision: 'bf16' }),
      /^Error: planCreate: bf16 needs AVX512_BF16 or AMX; this CPU has \S+$/,
    );
  });

  test('int8 matches fp32 within quantization error, with ranges calibrated by the fp32 plan', () => {
    const b = branchy();
    for (const batch of [1, 2]) {
      const full = b.spec(batch);
      const input = inputFor(full, 3);
      const ranges = calibratedRanges(full, input);
      const expected = referenceTensors(full, input);
      for (const output of [7, 9, 16, 17]) {
        const spec: PlanSpec = { ...b.spec(batch, output), precision: 'int8', ranges };
        const actual = runPlan(spec, input);
        assert.ok(actual.every(Number.isFinite));
        assertClose(actual, expected[output], `int8 batch ${batch} tensor ${output}`, 0.03);
      }
    }
  });

  test('int8 without a needed range names the node', () => {
    const b = branchy();
    const ranges = b.nodes.map(() => [0, 1] as [number, number] | null);
    ranges.push([0, 1]);
    ranges[0] = [-1, 1];
    ranges[3] = null; // reduce's output, which `wide` quantizes
    assert.throws(
      () => addon.planCreate({ ...b.spec(1), precision: 'int8', ranges }),
      /^Error: planCreate: node 2 \('reduce', conv\): tensor 3 \(this convolution's output\) needs a calibrated range/,
    );
  });

  test('errors are one line naming the function and the node', () => {
    const b = branchy();
    const bad = (mutate: (spec: PlanSpec) => void) => {
      const spec = structuredClone(b.spec(1));
      mutate(spec);
      return () => addon.planCreate(spec);
    };
    assert.throws(
      bad((s) => {
        s.nodes[1].shape = [6, 6, 17];
      }),
      /^Error: planCreate: node 1 \('a', conv\): output shape \[6, 6, 16\] differs from the spec's \[6, 6, 17\]$/,
    );
    assert.throws(
      bad((s) => {
        const n = s.nodes[2];
        if (n.op === 'conv') n.filter = new Float32Array(1000);
      }),
      /^Error: planCreate: node 2 \('reduce', conv\): filter has 1000 values, expected 56$/,
    );
    assert.throws(
      bad((s) => {
        s.nodes[6] = { ...s.nodes[6], shape: [6, 6, 12] } as (typeof s.nodes)[number];
        const n = s.nodes[6];
        if (n.op === 'concat') n.inputs = [2, 13];
      }),
      /^Error: planCreate: node 6 \('mixed', concat\): input 13 is not an earlier tensor$/,
    );
    const spec = b.spec(1);
    const plan = addon.planCreate(spec);
    assert.throws(
      () => addon.planRun(plan, new Float32Array(10), new Float32Array(outputSize(spec))),
      /^Error: planRun: input has 10 values, expected 715 \(batch 1 x \[13, 11, 5\]\)$/,
    );
    const poisoned = inputFor(spec);
    poisoned[3] = Number.NaN;
    assert.throws(
      () => addon.planRun(plan, poisoned, new Float32Array(outputSize(spec))),
      /^Error: planRun: input value 3 is nan$/,
    );
    addon.planRelease(plan);
    assert.throws(
      () => addon.planRun(plan, inputFor(spec), new Float32Array(outputSize(spec))),
      /^Error: planRun: the plan was released$/,
    );
    assert.throws(() => addon.planInfo(plan), /^Error: planInfo: the plan was released$/);
  });
});
