// serve's access control: a bearer API key on everything but the health probes and /metrics, and CORS
// only for the origin given.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady } from '../src/index';
import { isLoopback } from '../src/serve/access';
import { createInferenceServer, type InferenceServer } from '../src/serve/server';
import { CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';

const KEY = 'k3y-for-tests';
const ORIGIN = 'https://app.example';
let modelDir: string;
let secured: InferenceServer;
let open: InferenceServer;
let url: string;
let openUrl: string;
let jpeg: Buffer;

before(async () => {
  await backendReady;
  modelDir = await makeModelFolder();
  jpeg = await fs.readFile(path.join(CIFAR_SAMPLE, 'val/ship/0000.jpg'));
  secured = await createInferenceServer({
    modelDir,
    port: 0,
    apiKey: KEY,
    corsOrigin: ORIGIN,
    name: 'cifar',
  });
  url = await secured.listen();
  open = await createInferenceServer({ modelDir, port: 0 });
  openUrl = await open.listen();
});

after(async () => {
  await secured.close();
  await open.close();
  await fs.rm(modelDir, { recursive: true });
});

const predict = (base: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/v1/predict`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg', ...headers },
    body: jpeg as BodyInit,
  });

test('with an API key: 401 + WWW-Authenticate without it or with a wrong one, 200 with it', async () => {
  const none = await predict(url);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="inception"');
  assert.equal((await none.json()).error.code, 'unauthorized');
  const wrong = await predict(url, { Authorization: 'Bearer nope' });
  assert.equal(wrong.status, 401);
  assert.match((await wrong.json()).error.message, /not the API key/);
  assert.equal((await predict(url, { Authorization: 'Basic azNZ' })).status, 401);
  const right = await predict(url, { Authorization: `Bearer ${KEY}` });
  assert.equal(right.status, 200);

  // v2 and TF Serving answer 401 in their own error shape; model files and metadata are protected too.
  const v2 = await fetch(`${url}/v2/models/cifar/infer`, { method: 'POST', body: '{}' });
  assert.equal(v2.status, 401);
  assert.equal(typeof (await v2.json()).error, 'string');
  for (const route of ['/v1/models/cifar', '/v2/models/cifar', '/v1/model', '/model/model.json', '/report'])
    assert.equal((await fetch(`${url}${route}`)).status, 401, route);
});

test('health probes and /metrics stay open with an API key', async () => {
  for (const route of ['/healthz', '/v2/health/live', '/v2/health/ready', '/metrics'])
    assert.equal((await fetch(`${url}${route}`)).status, 200, route);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /inception_requests_refused_total\{code="unauthorized"\} [1-9]/);
});

test('CORS: only the configured origin gets Access-Control headers; preflight answered without the key', async () => {
  const preflight = await fetch(`${url}/v1/predict`, {
    method: 'OPTIONS',
    headers: {
      Origin: ORIGIN,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type',
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(preflight.headers.get('access-control-allow-headers')!, /Authorization/);
  assert.match(preflight.headers.get('access-control-allow-methods')!, /POST/);
  const fromApp = await predict(url, { Origin: ORIGIN, Authorization: `Bearer ${KEY}` });
  assert.equal(fromApp.headers.get('access-control-allow-origin'), ORIGIN);
  const elsewhere = await predict(url, { Origin: 'https://evil.example', Authorization: `Bearer ${KEY}` });
  assert.equal(elsewhere.headers.get('access-control-allow-origin'), null);
  // Answers without the CORS headers vary by Origin too, or a cache could serve one to the allowed origin.
  assert.equal(elsewhere.headers.get('vary'), 'Origin');
  assert.equal((await predict(url, { Authorization: `Bearer ${KEY}` })).headers.get('vary'), 'Origin');
  // Off by default: no CORS headers, and OPTIONS is not a route.
  const plain = await predict(openUrl, { Origin: ORIGIN });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('access-control-allow-origin'), null);
  const noPreflight = await fetch(`${openUrl}/v1/predict`, {
    method: 'OPTIONS',
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(noPreflight.status, 405);
});

test('isLoopback: which listen addresses warrant the no-key warning', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com']) assert.ok(!isLoopback(host), host);
});
