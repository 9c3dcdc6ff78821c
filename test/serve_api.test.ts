import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady, tf } from '../src/index';
import { createInferenceServer, type InferenceServer } from '../src/serve/server';
import { CIFAR_LABELS, CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';

const MAX_BODY = 64 * 1024;
let modelDir: string;
let service: InferenceServer;
let url: string;

before(async () => {
  await backendReady;
  modelDir = await makeModelFolder();
  service = await createInferenceServer({ modelDir, port: 0, maxBodyBytes: MAX_BODY, maxBatch: 4 });
  url = await service.listen();
});

after(async () => {
  await service.close();
  await fs.rm(modelDir, { recursive: true });
});

const image = (rel: string) => fs.readFile(path.join(CIFAR_SAMPLE, rel));

async function postImage(
  bytes: Uint8Array,
  type = 'image/jpeg',
  query = '',
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/v1/predict${query}`, {
    method: 'POST',
    headers: { 'Content-Type': type },
    body: bytes as BodyInit,
  });
  return { status: res.status, body: await res.json() };
}

/** A raw request with full control over headers and body chunks (fetch always sets its own framing). */
function rawRequest(
  method: string,
  route: string,
  headers: Record<string, string>,
  chunks: Uint8Array[],
): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${route}`, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: JSON.parse(Buffer.concat(parts).toString()),
        }),
      );
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

test('POST /v1/predict with a JPEG body: top-k labels with probabilities, ?top=K', async () => {
  const { status, body } = await postImage(await image('val/ship/0000.jpg'), 'image/jpeg', '?top=3');
  assert.equal(status, 200);
  assert.equal(body.predictions.length, 3);
  const probs = body.predictions.map((p: any) => p.probability);
  assert.deepEqual(
    [...probs].sort((a, b) => b - a),
    probs,
    'most probable first',
  );
  for (const p of body.predictions) assert.equal(p.label, CIFAR_LABELS[p.index]);
  const all = await postImage(await image('val/ship/0000.jpg'), 'image/jpeg', '?top=100');
  assert.equal(all.body.predictions.length, 10, 'top is capped at the number of classes');
  const sum = all.body.predictions.reduce((s: number, p: any) => s + p.probability, 0);
  assert.ok(Math.abs(sum - 1) < 1e-5, `probabilities sum to ${sum}`);
});

test('the server gives the same answer as the model on decodeImage input', async () => {
  const { loadModelFolder } = await import('../src/io/model_folder');
  const { decodeImage } = await import('../src/data/decode');
  const { model, info } = await loadModelFolder(modelDir);
  const x = await decodeImage(path.join(CIFAR_SAMPLE, 'val/dog/0002.jpg'), info.preprocessing);
  const y = tf.tidy(() => (model.predict(tf.tensor4d(x, [1, 32, 32, 3])) as tf.Tensor).dataSync());
  const best = y.indexOf(Math.max(...y));
  const { body } = await postImage(await image('val/dog/0002.jpg'), 'image/jpeg', '?top=1');
  assert.equal(body.predictions[0].index, best);
  // On onednn the server runs the compiled plan, which sums in another order than tfjs: float rounding.
  const diff = Math.abs(body.predictions[0].probability - y[best]);
  assert.ok(diff < 1e-5, `probability differs by ${diff}`);
  model.dispose();
});

test('multipart/form-data with several files answers one result per file, in order', async () => {
  const form = new FormData();
  const names = ['val/cat/0000.jpg', 'val/truck/0001.jpg', 'val/frog/0002.jpg'];
  for (const n of names)
    form.append(
      'image',
      new Blob([(await image(n)) as BlobPart], { type: 'image/jpeg' }),
      path.basename(path.dirname(n)),
    );
  const res = await fetch(`${url}/v1/predict?top=2`, { method: 'POST', body: form });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.deepEqual(
    body.results.map((r: any) => r.file),
    ['cat', 'truck', 'frog'],
  );
  for (const [i, n] of names.entries()) {
    const single = await postImage(await image(n), 'image/jpeg', '?top=2');
    // Same labels; probabilities equal up to float rounding (a batch of 3 and a batch of 1 may run
    // different native kernels).
    const batched = body.results[i].predictions;
    assert.deepEqual(
      batched.map((p: any) => p.label),
      single.body.predictions.map((p: any) => p.label),
      n,
    );
    batched.forEach((p: any, j: number) => {
      assert.ok(Math.abs(p.probability - single.body.predictions[j].probability) < 1e-4, `${n}: ${p.label}`);
    });
  }
});

test('GET /v1/model: name, labels, input shape, parameter count', async () => {
  const res = await fetch(`${url}/v1/model`);
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.name, 'googlenet');
  assert.deepEqual(body.labels, CIFAR_LABELS);
  assert.deepEqual(body.inputShape, [32, 32, 3]);
  assert.equal(typeof body.parameters, 'number');
  assert.ok(body.parameters > 10_000);
});

test('errors are JSON: 415 wrong type, 413 too large (declared and streamed), 400 corrupt/empty/bad top, 404, 405', async () => {
  const jpeg = await image('val/ship/0000.jpg');
  const wrongType = await postImage(jpeg, 'text/plain');
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.body.error.code, 'unsupported_media_type');

  const big = new Uint8Array(MAX_BODY + 1);
  const declared = await rawRequest(
    'POST',
    '/v1/predict',
    { 'Content-Type': 'image/jpeg', 'Content-Length': String(big.length) },
    [big],
  );
  assert.equal(declared.status, 413);
  assert.match(declared.body.error.message, /exceeds the limit of 65536 bytes/);
  const chunks = Array.from({ length: 10 }, () => new Uint8Array(MAX_BODY / 8));
  const streamed = await rawRequest(
    'POST',
    '/v1/predict',
    { 'Content-Type': 'image/jpeg', 'Transfer-Encoding': 'chunked' },
    chunks,
  );
  assert.equal(streamed.status, 413);

  const truncated = await postImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  assert.equal(truncated.status, 400);
  assert.equal(truncated.body.error.code, 'bad_image');
  const garbage = await postImage(new TextEncoder().encode('definitely not a png'), 'image/png');
  assert.equal(garbage.status, 400);
  const empty = await postImage(new Uint8Array(0));
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error.code, 'empty_body');
  const badTop = await postImage(jpeg, 'image/jpeg', '?top=zero');
  assert.equal(badTop.status, 400);
  assert.match(badTop.body.error.message, /top must be a positive integer/);

  const form = new FormData();
  form.append('a', new Blob([jpeg as BlobPart], { type: 'image/jpeg' }), 'good.jpg');
  form.append('b', new Blob([jpeg.subarray(0, 100) as BlobPart], { type: 'image/jpeg' }), 'broken.jpg');
  const mixed = await fetch(`${url}/v1/predict`, { method: 'POST', body: form });
  assert.equal(mixed.status, 400);
  assert.match((await mixed.json()).error.message, /broken\.jpg/);

  const missing = await fetch(`${url}/v9/nothing`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'not_found');
  const wrongMethod = await fetch(`${url}/v1/predict`);
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'POST');

  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200, 'still serving after the errors');
  assert.equal((await postImage(jpeg)).status, 200);
});

test('many parallel requests are batched, all answered correctly, no tensor leak', async () => {
  const files = CIFAR_LABELS.flatMap((c) => ['0000', '0001', '0002'].map((i) => `val/${c}/${i}.jpg`));
  const images = await Promise.all(files.map(image));
  const expected: string[] = [];
  for (const img of images)
    expected.push((await postImage(img, 'image/jpeg', '?top=1')).body.predictions[0].label);
  const tensorsBefore = tf.memory().numTensors;
  const batchesBefore = (await (await fetch(`${url}/healthz`)).json()).batches;
  const answers = await Promise.all(images.map((img) => postImage(img, 'image/jpeg', '?top=1')));
  assert.deepEqual(
    answers.map((a) => a.status),
    images.map(() => 200),
  );
  assert.deepEqual(
    answers.map((a) => a.body.predictions[0].label),
    expected,
  );
  const batches = (await (await fetch(`${url}/healthz`)).json()).batches - batchesBefore;
  assert.ok(batches < images.length, `${images.length} requests ran in ${batches} batches`);
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test('GET / serves the page, /model/model.json the tfjs export, /report an HTML report', async (t) => {
  const page = await fetch(`${url}/`);
  if (page.status === 404) {
    t.diagnostic('page not built (run npm run build); checking the JSON 404');
    assert.equal((await page.json()).error.code, 'page_not_built');
  } else {
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.match(await page.text(), /<script src="\/app.js">/);
  }
  const modelJson = await (await fetch(`${url}/model/model.json`)).json();
  assert.equal(modelJson.format, 'layers-model');
  const shard = await fetch(`${url}/model/${modelJson.weightsManifest[0].paths[0]}`);
  assert.equal(shard.status, 200);
  const report = await fetch(`${url}/report`);
  assert.match(await report.text(), /<h1>googlenet report<\/h1>/);
});
