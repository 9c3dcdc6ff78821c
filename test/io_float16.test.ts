import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../src/index';
import { float16Bits, quantizeFloat16, toFloat16 } from '../src/io/float16';

test('float16Bits: exact IEEE half bit patterns, round to nearest even, overflow, subnormals, NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff], // largest half
    [65520, 0x7c00], // rounds up to infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to 0: ties to even (0)
    [3 * 2 ** -25, 0x0002], // halfway between 1 and 2 subnormal steps: to even (2)
    [2 ** -14, 0x0400], // smallest normal
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: to even (1)
    [1 + 3 * 2 ** -11, 0x3c02],
  ];
  for (const [value, bits] of cases) {
    assert.equal(float16Bits(value).toString(16), bits.toString(16), `float16Bits(${value})`);
  }
  assert.equal(float16Bits(Number.NaN) & 0x7c00, 0x7c00);
  assert.notEqual(float16Bits(Number.NaN) & 0x3ff, 0);
});

test('quantizeFloat16: tfjs decodes the weights back within half precision, other dtypes untouched', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
  const ints = Int32Array.of(1, -2, 3);
  const artifacts: tf.io.ModelArtifacts = {
    weightSpecs: [
      { name: 'w', shape: [10, 100], dtype: 'float32' },
      { name: 'n', shape: [3], dtype: 'int32' },
    ],
    weightData: tf.io.concatenateArrayBuffers([values.buffer, ints.buffer]),
  };
  const q = quantizeFloat16(artifacts);
  assert.deepEqual(q.weightSpecs?.[0].quantization, { dtype: 'float16' });
  assert.equal(q.weightSpecs?.[1].quantization, undefined);
  assert.equal((q.weightData as ArrayBuffer).byteLength, 1000 * 2 + 3 * 4);
  const decoded = tf.io.decodeWeights(q.weightData as ArrayBuffer, q.weightSpecs ?? []);
  const w = decoded.w.dataSync();
  for (let i = 0; i < values.length; i++) {
    const tolerance = Math.max(Math.abs(values[i]) * 2 ** -11, 2 ** -25);
    assert.ok(Math.abs(w[i] - values[i]) <= tolerance, `w[${i}] ${w[i]} vs ${values[i]}`);
  }
  assert.deepEqual([...decoded.n.dataSync()], [1, -2, 3]);
  assert.deepEqual([...toFloat16(Float32Array.of(1, 2))], [0x3c00, 0x4000]);
  assert.throws(() => quantizeFloat16(q), /already quantized/);
  tf.dispose(Object.values(decoded));
});
