// The Open Inference Protocol (KServe v2 / Triton REST), TF Serving's predict API and /metrics, driven with
// plain HTTP requests built from the protocols' specs.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeImage } from '../src/data/decode';
import { backendReady } from '../src/index';
import { createInferenceServer, type InferenceServer } from '../src/serve/server';
import {
  CIFAR_LABELS,
  CIFAR_SAMPLE,
  FIXTURE_PREPROCESSING,
  makeModelFolder,
} from './support/model_folder_fixture';
import { maxAbsDiff, runOnnx } from './support/onnx_runtime';

let modelDir: string;
let service: InferenceServer;
let url: string;
let name: string;

before(async () => {
  await backendReady;
  modelDir = await makeModelFolder();
  service = await createInferenceServer({ modelDir, port: 0, maxBatch: 4 });
  url = await service.listen();
  name = path.basename(modelDir);
});

after(async () => {
  await service.close();
  await fs.rm(modelDir, { recursive: true });
});

const IMAGES = ['val/ship/0000.jpg', 'val/cat/0001.jpg', 'val/frog/0002.jpg'];
const image = (rel: string) => fs.readFile(path.join(CIFAR_SAMPLE, rel));

async function postJson(route: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The service's own answer for one image: all ten probabilities, by class index. */
async function v1Probabilities(rel: string): Promise<number[]> {
  const res = await fetch(`${url}/v1/predict?top=10`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg' },
    body: (await image(rel)) as BodyInit,
  });
  const probs = new Array(10).fill(Number.NaN);
  for (const p of (await res.json()).predictions) probs[p.index] = p.probability;
  return probs;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) < 1e-4, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

test('v2 health, server and model metadata: the model is served under the folder name', async () => {
  assert.deepEqual(await (await fetch(`${url}/v2/health/live`)).json(), { live: true });
  const ready = await fetch(`${url}/v2/health/ready`);
  assert.equal(ready.status, 200);
  const server = await (await fetch(`${url}/v2`)).json();
  assert.ok(server.extensions.includes('classification'));
  const meta = await (await fetch(`${url}/v2/models/${name}`)).json();
  assert.equal(meta.name, name);
  assert.deepEqual(meta.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 32, 32, 3] }]);
  assert.deepEqual(meta.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }]);
  const versioned = await fetch(`${url}/v2/models/${name}/versions/1`);
  assert.equal(versioned.status, 200);
  assert.equal((await fetch(`${url}/v2/models/${name}/ready`)).status, 200);
  const unknown = await fetch(`${url}/v2/models/nope/ready`);
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).error, /unknown model "nope"/);
});

test('v2 infer with an FP32 [N,H,W,3] tensor (flat and nested data) equals /v1/predict on the same images', async () => {
  const tensors = await Promise.all(
    IMAGES.map((rel) => decodeImage(path.join(CIFAR_SAMPLE, rel), FIXTURE_PREPROCESSING)),
  );
  const flat = tensors.flatMap((t) => Array.from(t));
  const request = {
    id: 'req-7',
    inputs: [{ name: 'input', shape: [3, 32, 32, 3], datatype: 'FP32', data: flat }],
  };
  const { status, body } = await postJson(`/v2/models/${name}/infer`, request);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.model_name, name);
  assert.equal(body.id, 'req-7');
  assert.equal(body.outputs.length, 1);
  const out = body.outputs[0];
  assert.equal(out.name, 'probabilities');
  assert.equal(out.datatype, 'FP32');
  assert.deepEqual(out.shape, [3, 10]);
  for (const [i, rel] of IMAGES.entries())
    assertClose(out.data.slice(i * 10, i * 10 + 10), await v1Probabilities(rel), rel);

  // The same tensor nested as [N][H][W][C] (the spec's row-major nested form).
  const nested = tensors.map((t) =>
    Array.from({ length: 32 }, (_, y) =>
      Array.from({ length: 32 }, (_, x) => Array.from(t.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3))),
    ),
  );
  const again = await postJson(`/v2/models/${name}/versions/1/infer`, {
    inputs: [{ name: 'input', shape: [3, 32, 32, 3], datatype: 'FP32', data: nested }],
  });
  assert.equal(again.status, 200);
  assertClose(again.body.outputs[0].data, out.data, 'nested');
});

test('v2 infer with the FP32 tensor an onnxruntime client feeds equals onnxruntime on the exported model', async () => {
  const { loadModelFolder } = await import('../src/io/model_folder');
  const { exportOnnxBytes } = await import('../src/export/onnx');
  const { tf } = await import('../src/index');
  const { model, info } = await loadModelFolder(modelDir);
  const tensors = await Promise.all(
    IMAGES.map((rel) => decodeImage(path.join(CIFAR_SAMPLE, rel), FIXTURE_PREPROCESSING)),
  );
  const flat = Float32Array.from(tensors.flatMap((t) => Array.from(t)));
  const input = tf.tensor4d(flat, [3, 32, 32, 3]);
  const onnx = await runOnnx(exportOnnxBytes(model, info), input);
  input.dispose();
  model.dispose();
  const { status, body } = await postJson(`/v2/models/${name}/infer`, {
    inputs: [{ name: 'input', shape: [3, 32, 32, 3], datatype: 'FP32', data: Array.from(flat) }],
    outputs: [{ name: 'probabilities', parameters: { binary_data: false } }],
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.deepEqual(body.outputs[0].shape, [...onnx.dims]);
  assert.ok(maxAbsDiff(body.outputs[0].data, onnx.data) < 1e-4, 'server vs onnxruntime');
});

test('v2 infer with BYTES base64 images and the classification extension: "score:index:label"', async () => {
  const b64 = await Promise.all(IMAGES.map(async (rel) => (await image(rel)).toString('base64')));
  const { status, body } = await postJson(`/v2/models/${name}/infer`, {
    inputs: [{ name: 'input', shape: [3], datatype: 'BYTES', data: b64 }],
    outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
  });
  assert.equal(status, 200, JSON.stringify(body));
  const out = body.outputs[0];
  assert.equal(out.datatype, 'BYTES');
  assert.deepEqual(out.shape, [3, 2]);
  for (const [i, rel] of IMAGES.entries()) {
    const probs = await v1Probabilities(rel);
    const order = probs.map((p, j) => [p, j]).sort((a, b) => b[0] - a[0]);
    for (let r = 0; r < 2; r++) {
      const [score, index, label] = out.data[i * 2 + r].split(':');
      assert.equal(Number(index), order[r][1], `${rel} rank ${r}`);
      assert.equal(label, CIFAR_LABELS[order[r][1]]);
      assert.ok(Math.abs(Number(score) - order[r][0]) < 1e-4);
    }
  }
});

test('v2 errors are {"error": "..."} with 400/404/405', async () => {
  const cases: [unknown, RegExp][] = [
    [{ inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['aa'] }] }, /unknown input "x"/],
    [
      { inputs: [{ name: 'input', shape: [1, 16, 16, 3], datatype: 'FP32', data: [] }] },
      /FP32 shape must be \[N, 32, 32, 3\]/,
    ],
    [
      { inputs: [{ name: 'input', shape: [1, 32, 32, 3], datatype: 'FP32', data: [1, 2, 3] }] },
      /3 values, its shape holds 3072/,
    ],
    [
      {
        inputs: [
          {
            name: 'input',
            shape: [1, 32, 32, 3],
            datatype: 'FP32',
            data: [...new Array(3071).fill(0), 'NaN'],
          },
        ],
      },
      /element 3071 is "NaN", not a finite number/,
    ],
    [{ inputs: [{ name: 'input', shape: [1], datatype: 'INT8', data: [1] }] }, /datatype "INT8"/],
    [
      { inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: ['bm90IGFuIGltYWdl'] }] },
      /input\[0\]/,
    ],
    [
      {
        inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: ['AA=='] }],
        outputs: [{ name: 'logits' }],
      },
      /unknown output "logits"/,
    ],
  ];
  for (const [request, message] of cases) {
    const { status, body } = await postJson(`/v2/models/${name}/infer`, request);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(typeof body.error, 'string');
    assert.match(body.error, message);
  }
  const notJson = await fetch(`${url}/v2/models/${name}/infer`, { method: 'POST', body: '{"inputs": [' });
  assert.equal(notJson.status, 400);
  assert.match((await notJson.json()).error, /not JSON/);
  for (const route of [`/v2/models/${name}/infer`, `/v1/models/${name}:predict`]) {
    const notObject = await postJson(route, [1, 2]);
    assert.equal(notObject.status, 400, route);
    assert.match(notObject.body.error, /must be a JSON object/, route);
  }
  // BYTES data nested deep enough to overflow a recursive walk's stack (JSON.parse takes it): a 400.
  const depth = 100_000;
  const deep = await fetch(`${url}/v2/models/${name}/infer`, {
    method: 'POST',
    body: `{"inputs": [{"name": "input", "shape": [1], "datatype": "BYTES", "data": ${'['.repeat(depth)}"AA=="${']'.repeat(depth)}}]}`,
  });
  assert.equal(deep.status, 400);
  assert.match((await deep.json()).error, /nested deeper than 8 levels/);
  // A deep object where an error message quotes the value: still a one-line 400.
  const deepObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  for (const body of [
    `{"inputs": [{"name": ${deepObject}, "shape": [1], "datatype": "BYTES", "data": ["AA=="]}]}`,
    `{"inputs": [{"name": "input", "shape": [1, 32, 32, 3], "datatype": "FP32", "data": [${deepObject}]}]}`,
  ]) {
    const res = await fetch(`${url}/v2/models/${name}/infer`, { method: 'POST', body });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error, /nested too deep to show/);
  }
  const get = await fetch(`${url}/v2/models/${name}/infer`);
  assert.equal(get.status, 405);
  assert.equal(typeof (await get.json()).error, 'string');
});

test('TF Serving predict: b64 instances, named b64 instances and numeric instances', async () => {
  const b64 = await Promise.all(IMAGES.map(async (rel) => (await image(rel)).toString('base64')));
  const { status, body } = await postJson(`/v1/models/${name}:predict`, {
    instances: b64.map((s) => ({ b64: s })),
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.predictions.length, 3);
  for (const [i, rel] of IMAGES.entries()) assertClose(body.predictions[i], await v1Probabilities(rel), rel);

  const named = await postJson(`/v1/models/${name}/versions/1:predict`, {
    signature_name: 'serving_default',
    instances: [{ image_bytes: { b64: b64[0] } }],
  });
  assert.equal(named.status, 200);
  assertClose(named.body.predictions[0], body.predictions[0], 'named');

  const t = await decodeImage(path.join(CIFAR_SAMPLE, IMAGES[1]), FIXTURE_PREPROCESSING);
  const hwc = Array.from({ length: 32 }, (_, y) =>
    Array.from({ length: 32 }, (_, x) => Array.from(t.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3))),
  );
  const numeric = await postJson(`/v1/models/${name}:predict`, { instances: [hwc] });
  assert.equal(numeric.status, 200);
  assertClose(numeric.body.predictions[0], body.predictions[1], 'numeric');

  const status1 = await (await fetch(`${url}/v1/models/${name}`)).json();
  assert.equal(status1.model_version_status[0].state, 'AVAILABLE');
  const missing = await postJson('/v1/models/other:predict', { instances: [] });
  assert.equal(missing.status, 404);
  assert.equal(typeof missing.body.error, 'string');
  const empty = await postJson(`/v1/models/${name}:predict`, { instances: [] });
  assert.equal(empty.status, 400);
  assert.match(empty.body.error, /non-empty/);
});

test('a malformed %-escape in a v2 or TF Serving model path is a 400, not a 500', async () => {
  for (const route of ['/v2/models/%E0%A4%A', '/v1/models/%ZZ:predict', '/v1/models/%E0']) {
    const res = await fetch(`${url}${route}`, { method: route.endsWith(':predict') ? 'POST' : 'GET' });
    const body = await res.json();
    assert.equal(res.status, 400, `${route}: ${JSON.stringify(body)}`);
    assert.match(body.error, /percent-encoding/);
  }
});

/** Parses Prometheus text exposition: `name{labels} value` samples, checking every line's syntax. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?) (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(
        line,
      );
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    samples.set(m[1], Number(m[2]));
  }
  return samples;
}

test('/metrics parses as Prometheus text and counts requests, batches, decode failures', async () => {
  const jpeg = await image(IMAGES[0]);
  await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: jpeg });
  await fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg' },
    body: jpeg.subarray(0, 50),
  });
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const samples = parsePrometheus(await res.text());
  const get = (key: string) => {
    assert.ok(samples.has(key), `missing ${key}`);
    return samples.get(key)!;
  };
  assert.ok(get('inception_http_requests_total{route="/v1/predict",method="POST",status="200"}') >= 1);
  assert.ok(get('inception_http_requests_total{route="/v1/predict",method="POST",status="400"}') >= 1);
  assert.ok(get('inception_decode_failures_total') >= 1);
  assert.ok(get('inception_batch_size_count') >= 1);
  assert.ok(get('inception_inference_duration_seconds_count') >= 1);
  assert.ok(get('inception_http_request_duration_seconds_count{route="/v1/predict"}') >= 2);
  assert.equal(get('inception_queue_depth{stage="decode"}'), 0);
  assert.equal(get('inception_requests_in_flight'), 1, 'the scrape itself');
  assert.ok(get('inception_model_load_seconds') > 0);
  assert.ok(get('process_resident_memory_bytes') > 0, 'default process metrics');
  assert.ok(get('inception_requests_refused_total{code="bad_image"}') >= 1);
});
