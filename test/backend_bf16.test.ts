// bf16 compute (CPU autocast) in the native convolutions and matmuls: results within bf16 rounding of
// tfjs cpu's fp32 on odd shapes, forward and gradients; the switch, and its refusal where the CPU lacks bf16.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { loadAddon } from '../src/backend/addon';
import {
  bf16Unavailable,
  computePrecision,
  setComputePrecision,
  withComputePrecision,
} from '../src/backend/precision';
import { tf } from '../src/index';
import { assertClose, runOn, seededTensor, skipWithoutAddon } from './helpers/onednn';
import { CLI_MAIN, CPU_ENV } from './training_fixtures';

const addon = loadAddon();
const noBf16 = addon ? bf16Unavailable(addon.cpuIsa) : null;
const skip = skipWithoutAddon || noBf16 || false;
if (skip) console.log(`# skipping the bf16 kernel tests: ${skip}`);

/** bf16 keeps 8 significant bits: inputs round by up to 2^-9 relative, so results differ by ~1e-3..1e-2. */
const BF16_TOLERANCE = 1e-2;

/** tfjs cpu in fp32 against onednn in bf16, which must also differ from onednn's own fp32 (it ran). */
function compareInBf16(label: string, compute: () => tf.Tensor[]): void {
  const expected = runOn('cpu', compute);
  const fp32 = runOn('onednn', compute);
  setComputePrecision('bf16');
  let bf16: Float32Array[];
  try {
    bf16 = runOn('onednn', compute);
  } finally {
    setComputePrecision('fp32');
  }
  bf16.forEach((values, i) => {
    assertClose(values, expected[i], `${label} output ${i}`, BF16_TOLERANCE);
    // bf16 rounding shows: the bf16 primitives ran, not the fp32 ones (which match cpu to ~1e-6).
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < values.length; j++) {
      diff = Math.max(diff, Math.abs(values[j] - fp32[i][j]));
      scale = Math.max(scale, Math.abs(fp32[i][j]));
    }
    assert.ok(diff / scale > 1e-5, `${label} output ${i}: bf16 equals fp32 (${diff / scale})`);
  });
}

interface ConvCase {
  shape: [number, number, number, number];
  kernel: number;
  out: number;
  stride: number;
  pad: 'same' | 'valid';
  dilation?: number;
}

// Odd shapes: batch 1 and 3, non-square, channels not a multiple of 8 or 16, kernels 1/3/5/7, a 1x1 map
// (one tap in bounds: the gemm path), 1x1 stride 1 (the gemm path) and stride 2, dilation.
const CONV_CASES: ConvCase[] = [
  { shape: [3, 10, 7, 5], kernel: 3, out: 13, stride: 2, pad: 'same' },
  { shape: [1, 13, 9, 6], kernel: 5, out: 10, stride: 2, pad: 'valid' },
  { shape: [3, 15, 12, 3], kernel: 7, out: 9, stride: 2, pad: 'same' },
  { shape: [3, 8, 8, 12], kernel: 1, out: 7, stride: 1, pad: 'valid' },
  { shape: [1, 12, 10, 17], kernel: 1, out: 24, stride: 2, pad: 'same' },
  { shape: [3, 1, 1, 13], kernel: 3, out: 11, stride: 1, pad: 'same' },
  { shape: [2, 11, 11, 35], kernel: 3, out: 33, stride: 1, pad: 'same', dilation: 2 },
];

const convName = (c: ConvCase) =>
  `${c.shape.join('x')} k${c.kernel} -> ${c.out}, stride ${c.stride}, ${c.pad}${c.dilation ? `, dilation ${c.dilation}` : ''}`;

interface MatMulCase {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const MATMUL_CASES: MatMulCase[] = [
  { a: [5, 9], b: [9, 11], transposeA: false, transposeB: false },
  { a: [3, 7, 5], b: [3, 7, 4], transposeA: true, transposeB: false },
  { a: [37, 29], b: [23, 29], transposeA: false, transposeB: true },
  { a: [4, 5, 7], b: [7, 3], transposeA: false, transposeB: false },
];

describe('onednn in bf16 matches cpu fp32 within bf16 rounding', { skip }, () => {
  for (const c of CONV_CASES) {
    test(`conv2d + bias + relu, input, filter and bias gradients ${convName(c)}`, () => {
      compareInBf16('conv', () => {
        const x = seededTensor(c.shape, 1) as tf.Tensor4D;
        const filter = seededTensor([c.kernel, c.kernel, c.shape[3], c.out], 2) as tf.Tensor4D;
        const bias = seededTensor([c.out], 3) as tf.Tensor1D;
        const conv = (input: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) =>
          tf.fused.conv2d({
            x: input,
            filter: w,
            bias: b,
            strides: c.stride,
            pad: c.pad,
            dilations: c.dilation ?? 1,
            activation: 'relu',
          });
        // A loss whose gradient is not constant, so dy carries values that bf16 has to round.
        const grads = tf.grads((i, w, b) =>
          conv(i as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D)
            .square()
            .sum(),
        );
        // tfjs has no conv2d gradient with dilation: forward only there.
        if (c.dilation) return [conv(x, filter, bias)];
        return [conv(x, filter, bias), ...grads([x, filter, bias])];
      });
    });
  }
  for (const c of MATMUL_CASES) {
    const name = `${c.a.join('x')}${c.transposeA ? 'ᵀ' : ''} · ${c.b.join('x')}${c.transposeB ? 'ᵀ' : ''}`;
    test(`matMul and its gradients ${name}`, () => {
      compareInBf16('matmul', () => {
        const a = seededTensor(c.a, 1);
        const b = seededTensor(c.b, 2);
        const product = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, c.transposeA, c.transposeB);
        if (c.a.length !== c.b.length) return [product(a, b)]; // tfjs has no gradient across broadcast batches
        return [product(a, b), ...tf.grads((x, y) => product(x, y).square().sum())([a, b])];
      });
    });
  }
  test('withComputePrecision restores the precision before it, also when the body throws', async () => {
    tf.setBackend('onednn');
    assert.equal(computePrecision(), 'fp32');
    await withComputePrecision('bf16', async () => assert.equal(computePrecision(), 'bf16'));
    assert.equal(computePrecision(), 'fp32');
    await assert.rejects(
      withComputePrecision('bf16', async () => {
        throw new Error('in the body');
      }),
      /in the body/,
    );
    assert.equal(computePrecision(), 'fp32');
  });
});

describe('bf16 where it cannot run', () => {
  test('a CPU without AVX512_BF16 or AMX is named in the refusal', () => {
    assert.equal(bf16Unavailable('avx2'), 'bf16: this CPU (avx2) lacks AVX512_BF16 and AMX');
    assert.equal(
      bf16Unavailable('avx512_core_vnni'),
      'bf16: this CPU (avx512_core_vnni) lacks AVX512_BF16 and AMX',
    );
    assert.equal(bf16Unavailable('avx512_core_bf16'), null);
    assert.equal(bf16Unavailable('avx512_core_amx'), null);
  });

  test('on this CPU: bf16 is set, or refused with that message by both the library and the addon', {
    skip: skipWithoutAddon,
  }, () => {
    tf.setBackend('onednn');
    if (!noBf16) {
      setComputePrecision('bf16');
      assert.equal(computePrecision(), 'bf16');
      setComputePrecision('fp32');
      return;
    }
    assert.throws(() => setComputePrecision('bf16'), { message: noBf16 });
    assert.throws(() => addon?.setComputePrecision('bf16'), /lacks AVX512_BF16 and AMX/);
    assert.equal(computePrecision(), 'fp32');
  });

  test('train --precision bf16 off the onednn engine: exit 2, one line naming the flag', () => {
    const r = spawnSync(process.execPath, [CLI_MAIN, 'train', '--data', 'nowhere', '--precision', 'bf16'], {
      env: CPU_ENV,
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--precision bf16: needs the onednn engine \(the backend is cpu\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
