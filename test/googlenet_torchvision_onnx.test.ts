import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportOnnxBytes } from '../src/export/onnx';
import { backendReady, googlenetTorchvision, tf } from '../src/index';
import { maxAbsDiff, runOnnx } from './support/onnx_runtime';

test('googlenet-torchvision exports to ONNX (explicit pads, transform_input): onnxruntime matches tfjs', async () => {
  await backendReady;
  // 97x112: conv1's torch padding and a ceil-mode pool that needs explicit padding (maxpool1_pad).
  const model = googlenetTorchvision({
    inputShape: [97, 112, 3],
    numClasses: 10,
    transformInput: true,
    classifierActivation: 'linear',
    seed: 3,
  });
  assert.ok(model.getLayer('maxpool1_pad'));
  // Weights at a scale that keeps activations O(1) through the network, BN statistics non-trivial.
  let seed = 1;
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    layer.setWeights(
      layer.weights.map((w) => {
        const shape = w.shape as number[];
        const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 4;
        const t = tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed++);
        return w.originalName.endsWith('moving_variance') ? tf.add(tf.abs(t), 0.5) : t;
      }),
    );
  }
  const x = tf.randomNormal([2, 97, 112, 3], 0, 1, 'float32', 5);
  const expected = model.predict(x) as tf.Tensor;
  const got = await runOnnx(exportOnnxBytes(model), x);
  assert.deepEqual([...got.dims], expected.shape);
  const diff = maxAbsDiff(got.data, expected.dataSync());
  const scale = expected.abs().max().dataSync()[0];
  assert.ok(scale > 0.5 && diff <= 1e-4 * scale, `max |onnx - tfjs| = ${diff} at logit scale ${scale}`);
  tf.dispose([x, expected]);
  model.dispose();
});
