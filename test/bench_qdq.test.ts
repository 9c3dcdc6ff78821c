import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { activationParams, quantizeQdq, type Ranges, weightScales, withEveryOutput } from '../bench/onnx_qdq';
import { toOnnxModel } from '../src/export/onnx';
import { tf } from '../src/index';
import { googlenet } from '../src/models/googlenet';
import { onnxCheck, onnxCheckerUnavailable } from './support/onnx_runtime';

/** Every output of `bytes` on `input` (NHWC), by name. */
async function runAll(bytes: Uint8Array, input: tf.Tensor): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = { input: new ort.Tensor('float32', input.dataSync() as Float32Array, input.shape) };
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

test('QDQ int8 copy of the exported googlenet: int8 weights, Q/DQ pairs, logits close to fp32 on onnxruntime', async () => {
  tf.setBackend('cpu');
  const model = googlenet({ inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.25 });
  const fp32 = toOnnxModel(model);
  model.dispose();
  tf.randomNormal([1], 0, 1, 'float32', 7).dispose();
  const calibration = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 1);
  const all = await runAll(onnx.ModelProto.encode(withEveryOutput(fp32)).finish(), calibration);
  const ranges: Ranges = new Map([['input', [-4, 4]]]);
  for (const [name, data] of Object.entries(all)) ranges.set(name, [Math.min(...data), Math.max(...data)]);
  const qdq = quantizeQdq(fp32, ranges);
  const graph = qdq.graph as onnx.GraphProto;
  const ops = graph.node.map((n) => n.opType);
  const convs = ops.filter((o) => o === 'Conv').length;
  assert.ok(ops.filter((o) => o === 'QuantizeLinear').length >= convs, 'every conv input is quantized');
  const int8 = graph.initializer.filter(
    (i) => i.dataType === onnx.TensorProto.DataType.INT8 && i.dims!.length === 4,
  );
  assert.equal(int8.length, convs, 'every conv weight is int8');
  assert.ok(
    !graph.initializer.some((i) => i.name!.endsWith('_W') && i.dataType === onnx.TensorProto.DataType.FLOAT),
    'no float weight left',
  );
  // The logits (before the softmax) of unseen images agree within a few percent of their spread.
  const images = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 2);
  const logits = (bytes: Uint8Array) => runAll(bytes, images).then((o) => o.output_1);
  const withLogits = (m: onnx.IModelProto) => onnx.ModelProto.encode(withEveryOutput(m)).finish();
  const [want, got] = await Promise.all([logits(withLogits(fp32)), logits(withLogits(qdq))]);
  const spread = Math.max(...want) - Math.min(...want);
  const worst = Math.max(...want.map((v, i) => Math.abs(v - got[i])));
  assert.ok(spread > 0 && worst < 0.1 * spread, `int8 logits off by ${worst} (spread ${spread})`);
  const why = onnxCheckerUnavailable();
  if (why) console.log(`# onnx.checker skipped: ${why}`);
  else {
    const dir = mkdtempSync(join(tmpdir(), 'bench-qdq-'));
    writeFileSync(join(dir, 'qdq.onnx'), onnx.ModelProto.encode(qdq).finish());
    assert.equal(onnxCheck(join(dir, 'qdq.onnx')), '');
    rmSync(dir, { recursive: true });
  }
  tf.dispose([calibration, images]);
});

test('QDQ: a tensor without a calibrated range is an error naming it', () => {
  tf.setBackend('cpu');
  const model = googlenet({ inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.1 });
  const fp32 = toOnnxModel(model);
  model.dispose();
  assert.throws(() => quantizeQdq(fp32, new Map()), /QDQ: no calibrated range for tensor input_nchw/);
});

test('QDQ parameters: u8 activations hold 0; s8 weights symmetric per channel', () => {
  assert.deepEqual(activationParams([0, 255]), { scale: 1, zeroPoint: 0 });
  const p = activationParams([-1, 0.275]);
  assert.ok(Math.abs(p.scale - 0.005) < 1e-12 && p.zeroPoint === 200, JSON.stringify(p));
  assert.deepEqual(activationParams([2, 2]), { scale: 2 / 255, zeroPoint: 0 });
  assert.deepEqual(activationParams([0, 0]), { scale: 1, zeroPoint: 0 });
  assert.deepEqual([...weightScales(new Float32Array([1, -2.54, 0, 0]), 2)], [Math.fround(2.54 / 127), 1]);
  assert.deepEqual([...weightScales(new Float32Array([1, -2.54, 0, 0]), 1)], [Math.fround(2.54 / 127)]);
});
