// serve's per-request budget, queue admission, timeouts and the small HTTP defects of issue 13, with a
// bounded loopback load test: ordinary requests keep their latency while abusive ones run.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady } from '../src/index';
import { FairPool } from '../src/serve/fair_pool';
import { resolveLimits } from '../src/serve/limits';
import { createInferenceServer, type InferenceServer } from '../src/serve/server';
import { CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';
import { heavyPng, pixelBomb as makePixelBomb, multipart } from './support/serve_abuse';

let modelDir: string;
let jpeg: Buffer;

before(async () => {
  await backendReady;
  modelDir = await makeModelFolder();
  jpeg = await fs.readFile(path.join(CIFAR_SAMPLE, 'val/ship/0000.jpg'));
});
after(() => fs.rm(modelDir, { recursive: true }));

/** A server for one test, closed when the test ends. */
async function serve(
  t: { after: (fn: () => Promise<void>) => void },
  options: Parameters<typeof createInferenceServer>[0] = {},
): Promise<{ service: InferenceServer; url: string }> {
  const service = await createInferenceServer({ modelDir, port: 0, ...options });
  const url = await service.listen();
  t.after(() => service.close());
  return { service, url };
}

let bomb: Buffer | undefined;
const pixelBomb = () => {
  bomb ??= makePixelBomb();
  return bomb;
};

const postJpeg = (url: string) =>
  fetch(`${url}/v1/predict?top=1`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg' },
    body: jpeg as BodyInit,
  });

/** Writes `head` on a raw socket and resolves with everything the server sends until it closes. */
function rawExchange(url: string, head: string, waitMs = 3000): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(head));
    let got = '';
    socket.on('data', (d) => {
      got += d;
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.on('error', reject);
  });
}

test('defaults: the pixel budget grows with the model input, never below one 16 MP photo', () => {
  const small = resolveLimits({}, [32, 32, 3]);
  const large = resolveLimits({}, [224, 224, 3]);
  assert.equal(small.maxPixels, 16_000_000);
  assert.ok(large.maxPixels > small.maxPixels);
  assert.ok(large.maxPixels < 32 * 16000 * 16000, 'far below 32 pixel bombs');
  assert.equal(resolveLimits({ maxImages: 4 }, [224, 224, 3]).maxImages, 4);
  assert.throws(() => resolveLimits({ maxQueue: 0 }, [32, 32, 3]), /maxQueue must be an integer >= 1/);
});

test('FairPool: bounded concurrency, waiting tasks taken round-robin by owner, cancel drops the rest', async () => {
  const pool = new FairPool(1);
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const big = {};
  const small = {};
  const task = (label: string, wait?: Promise<void>) => async () => {
    await wait;
    order.push(label);
    return label;
  };
  const first = pool.run(big, task('big0', gate));
  const rest = [1, 2, 3].map((i) => pool.run(big, task(`big${i}`)));
  const smallOne = pool.run(small, task('small0'));
  assert.equal(pool.active, 1);
  assert.equal(pool.waiting, 4);
  release();
  await Promise.all([first, ...rest, smallOne]);
  assert.deepEqual(order, ['big0', 'big1', 'small0', 'big2', 'big3'], 'the small owner waits one turn');

  const blocker = pool.run(big, task('x', new Promise((r) => setTimeout(r, 20))));
  const dropped = pool.run(small, task('never'));
  pool.cancel(small);
  await assert.rejects(dropped, /cancelled/);
  await blocker;
  assert.equal(pool.waiting, 0);
});

test('32 PNGs of 16000x16000 in ~1 MB are refused from their headers with 413 naming the limit', async (t) => {
  const { service, url } = await serve(t);
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/predict`, {
    method: 'POST',
    body: multipart(Array(32).fill(pixelBomb())),
  });
  const ms = performance.now() - t0;
  const body = await res.json();
  assert.equal(res.status, 413);
  assert.equal(body.error.code, 'too_many_pixels');
  assert.match(body.error.message, /8192000000 pixels \(largest: img0\.png, 16000x16000\)/);
  assert.match(body.error.message, /over the limit of 16000000 pixels per request \(--max-megapixels\)/);
  t.diagnostic(`refused in ${ms.toFixed(0)} ms`);
  assert.ok(ms < 3000, `refused in ${ms} ms`);
  // The raw-body form and the v2 BYTES form go through the same budget.
  const raw = await fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/png' },
    body: pixelBomb() as BodyInit,
  });
  assert.equal(raw.status, 413);
  const v2 = await fetch(`${url}/v2/models/${service.name}/infer`, {
    method: 'POST',
    body: JSON.stringify({
      inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: [pixelBomb().toString('base64')] }],
    }),
  });
  assert.equal(v2.status, 413);
  assert.match((await v2.json()).error, /over the limit of 16000000 pixels/);
});

test('more images than --max-images: 413 in every protocol', async (t) => {
  const { service, url } = await serve(t, { limits: { maxImages: 4 } });
  const res = await fetch(`${url}/v1/predict`, {
    method: 'POST',
    body: multipart(Array(5).fill(jpeg), 'image/jpeg'),
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, 'too_many_images');
  const b64 = jpeg.toString('base64');
  const v2 = await fetch(`${url}/v2/models/${service.name}/infer`, {
    method: 'POST',
    body: JSON.stringify({
      inputs: [{ name: 'input', shape: [5], datatype: 'BYTES', data: Array(5).fill(b64) }],
    }),
  });
  assert.equal(v2.status, 413);
  assert.match((await v2.json()).error, /5 images, over the limit of 4 per request/);
  const tf = await fetch(`${url}/v1/models/${service.name}:predict`, {
    method: 'POST',
    body: JSON.stringify({ instances: Array(5).fill({ b64 }) }),
  });
  assert.equal(tf.status, 413);
  const ok = await fetch(`${url}/v1/predict`, {
    method: 'POST',
    body: multipart(Array(4).fill(jpeg), 'image/jpeg'),
  });
  assert.equal(ok.status, 200);
});

test('a full queue answers 503 with Retry-After; the rest are served', async (t) => {
  const { url } = await serve(t, { limits: { maxQueue: 4 } });
  const heavy = await heavyPng(1500);
  const answers = await Promise.all(
    Array.from({ length: 6 }, () =>
      fetch(`${url}/v1/predict`, { method: 'POST', body: multipart(Array(4).fill(heavy)) }),
    ),
  );
  const statuses = answers.map((r) => r.status);
  t.diagnostic(`statuses ${statuses}`);
  assert.ok(
    statuses.every((s) => s === 200 || s === 503),
    String(statuses),
  );
  assert.ok(statuses.includes(200) && statuses.includes(503), String(statuses));
  const busy = answers[statuses.indexOf(503)];
  assert.ok(Number(busy.headers.get('retry-after')) >= 1);
  assert.equal((await busy.json()).error.code, 'queue_full');
  assert.equal((await postJpeg(url)).status, 200, 'served again once the queue drains');
});

test('Expect: 100-continue with an oversize Content-Length gets 413 and no 100 Continue', async (t) => {
  const { url } = await serve(t, { maxBodyBytes: 1024 * 1024 });
  const reply = await rawExchange(
    url,
    'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 52428800\r\nExpect: 100-continue\r\n\r\n',
  );
  assert.match(reply, /^HTTP\/1\.1 413 /);
  assert.doesNotMatch(reply, /100 Continue/);
  const small = await rawExchange(
    url,
    `POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    500,
  );
  assert.match(small, /^HTTP\/1\.1 100 Continue/, 'a body within the limit is invited');
});

test('a request target that is not a URL gets 400 and the server keeps serving', async (t) => {
  const { url } = await serve(t);
  const reply = await rawExchange(url, 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 400 /);
  assert.match(reply, /"code":"bad_url"/);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
});

test('a client that aborts mid-upload is not logged as a 500', async (t) => {
  const { service, url } = await serve(t);
  const logged: string[] = [];
  t.mock.method(console, 'error', (...args: unknown[]) => {
    logged.push(args.join(' '));
  });
  const { port } = new URL(url);
  await new Promise<void>((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`,
      );
      socket.write(jpeg.subarray(0, 100));
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
  });
  for (let i = 0; i < 50 && service.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(service.inFlight, 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(logged, []);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(
    metrics,
    /inception_http_requests_total\{route="\/v1\/predict",method="POST",status="499"\} 1/,
  );
});

test('POST / is 405 (not "page not built"); HEAD works on GET routes', async (t) => {
  const { url } = await serve(t);
  const post = await fetch(`${url}/`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.equal((await post.json()).error.code, 'method_not_allowed');
  for (const route of ['/healthz', '/v1/model', '/v2/health/ready', '/metrics']) {
    const head = await fetch(`${url}${route}`, { method: 'HEAD' });
    assert.equal(head.status, 200, route);
    assert.equal(await head.text(), '', `${route}: no body`);
  }
});

test('load: ordinary requests keep their latency while pixel bombs, heavy uploads and slow clients run', async (t) => {
  const { url } = await serve(t, { limits: { headersTimeoutMs: 2000, requestTimeoutMs: 4000 } });
  for (let i = 0; i < 5; i++) assert.equal((await postJpeg(url)).status, 200); // warm-up
  const abuser = fork(path.join(__dirname, 'support', 'serve_abuse.js'), [url], { stdio: 'inherit' });
  t.after(() => {
    abuser.kill();
  });
  const messages: unknown[] = [];
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      if (messages.length) resolve(messages.shift());
      abuser.once('message', () => resolve(messages.shift()));
      abuser.once('exit', (code) => reject(new Error(`abuser exited ${code}`)));
    });
  abuser.on('message', (m) => messages.push(m));
  assert.equal(await next(), 'started');
  await new Promise((r) => setTimeout(r, 300)); // let the abuse start
  const latencies: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    const res = await postJpeg(url);
    await res.json();
    latencies.push(performance.now() - t0);
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 20));
  }
  abuser.send('stop');
  const { bombs, heavy, slowHeldMs } = (await next()) as {
    bombs: number[];
    heavy: number[];
    slowHeldMs: number[];
  };
  latencies.sort((a, b) => a - b);
  const p50 = latencies[20];
  const p99 = latencies[39];
  t.diagnostic(
    `ordinary p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; ${bombs.length} bomb requests, ${heavy.length} heavy requests; slow clients held ${Math.min(...slowHeldMs).toFixed(0)}-${Math.max(...slowHeldMs).toFixed(0)} ms`,
  );
  assert.ok(bombs.length >= 3 && bombs.every((s) => s === 413), `bombs: ${bombs}`);
  assert.ok(heavy.length >= 2 && heavy.every((s) => s === 200), `heavy: ${heavy}`);
  assert.ok(Math.max(...slowHeldMs) < 7000, `slow clients held up to ${Math.max(...slowHeldMs)} ms`);
  // The issue saw 15 s; generous for a shared 2-core CI machine.
  assert.ok(p99 < 1500, `ordinary p99 ${p99} ms`);
});

test('connections past --max-connections are closed at once', async (t) => {
  const { url } = await serve(t, { limits: { maxConnections: 2 } });
  const { port } = new URL(url);
  const connect = () =>
    new Promise<net.Socket>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
    });
  const held = [await connect(), await connect()];
  // Node counts a connection once the server has accepted it.
  await new Promise((r) => setTimeout(r, 100));
  const third = await connect();
  const closed = await new Promise<boolean>((resolve) => {
    third.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 2000);
  });
  assert.ok(closed, 'the third connection was closed');
  for (const s of held) assert.equal(s.destroyed, false);
  for (const s of held) s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await postJpeg(url)).status, 200, 'served again below the cap');
});
