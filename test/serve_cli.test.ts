import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady } from '../src/index';
import { CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';

const MAIN = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
let modelDir: string;

before(async () => {
  await backendReady;
  modelDir = await makeModelFolder();
});
after(() => fs.rm(modelDir, { recursive: true }));

interface Served {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Spawns `inception serve` on a free port and resolves once it prints its URL. */
function serveCli(extra: string[] = [], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--model-dir', modelDir, '--port', '0', ...extra], {
    env: { ...process.env, INCEPTION_BACKEND: 'cpu', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}${err}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stdout: () => out, stderr: () => err, exit });
      }
    });
    exit.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

test('serve binds 127.0.0.1 by default; /healthz stays responsive under a queue of predictions', async (t) => {
  const served = await serveCli(['--max-batch', '4']);
  try {
    assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const jpeg = await fs.readFile(path.join(CIFAR_SAMPLE, 'val/horse/0000.jpg'));
    const post = () =>
      fetch(`${served.url}/v1/predict`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/jpeg' },
        body: jpeg,
      });
    const load = Promise.all(Array.from({ length: 64 }, post));
    let done = false;
    load.then(() => {
      done = true;
    });
    const latencies: number[] = [];
    let sawQueue = 0;
    while (!done) {
      const t0 = performance.now();
      const h = await (await fetch(`${served.url}/healthz`)).json();
      latencies.push(performance.now() - t0);
      if (h.queued > 0 || h.busy) sawQueue++;
    }
    const answers = await load;
    assert.ok(answers.every((r) => r.status === 200));
    latencies.sort((a, b) => a - b);
    const worst = latencies[latencies.length - 1];
    t.diagnostic(
      `healthz during load: ${latencies.length} answers (${sawQueue} with work queued), median ${latencies[latencies.length >> 1].toFixed(1)} ms, worst ${worst.toFixed(1)} ms`,
    );
    assert.ok(sawQueue >= 1, 'healthz answered while predictions were queued or running');
    assert.ok(worst < 2000, `slowest healthz ${worst} ms`);
  } finally {
    served.child.kill('SIGTERM');
    await served.exit;
  }
});

test('SIGTERM mid-request: the request completes, new connections are refused, exit code 0', async () => {
  const served = await serveCli();
  const jpeg = await fs.readFile(path.join(CIFAR_SAMPLE, 'val/ship/0001.jpg'));
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(
      `${served.url}/v1/predict?top=1`,
      { method: 'POST', headers: { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(parts).toString()) }),
        );
      },
    );
    req.on('error', reject);
    // Half the body now, SIGTERM, then the rest: the server must wait for this request.
    req.write(jpeg.subarray(0, 500));
    setTimeout(() => {
      served.child.kill('SIGTERM');
      setTimeout(async () => {
        assert.equal(served.child.exitCode, null, 'still running while a request is in flight');
        await assert.rejects(fetch(`${served.url}/healthz`), 'new connections are refused while draining');
        req.end(jpeg.subarray(500));
      }, 400);
    }, 300);
  });
  const { status, body } = await response;
  assert.equal(status, 200);
  assert.equal(body.predictions.length, 1);
  assert.equal(await served.exit, 0);
  assert.match(served.stdout(), /SIGTERM: finishing 1 request\(s\) in flight[\s\S]*stopped/);
});

test('serve with a missing model folder: one-line error, non-zero exit', async () => {
  const child = spawn(process.execPath, [MAIN, 'serve', '--model-dir', '/nonexistent/model'], {
    env: { ...process.env, INCEPTION_BACKEND: 'cpu' },
  });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.equal(err.trim(), 'inception serve: error: /nonexistent/model: no such model folder');
});

test('serve on a non-loopback address without a key warns once; INCEPTION_API_KEY and --name are honoured', async () => {
  const exposed = await serveCli(['--host', '0.0.0.0']);
  try {
    // stderr and stdout are separate pipes: the warning may arrive just after the URL.
    for (let i = 0; i < 50 && !exposed.stderr().includes('\n'); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.match(exposed.stderr(), /warning: listening on 0\.0\.0\.0 without --api-key/);
    assert.equal(exposed.stderr().trim().split('\n').length, 1);
  } finally {
    exposed.child.kill('SIGTERM');
    await exposed.exit;
  }
  const keyed = await serveCli(['--host', '0.0.0.0', '--name', 'cifar'], { INCEPTION_API_KEY: 'env-key' });
  try {
    assert.doesNotMatch(keyed.stderr(), /warning/);
    assert.match(keyed.stdout(), /served as "cifar"/);
    const base = keyed.url.replace('0.0.0.0', '127.0.0.1');
    assert.equal((await fetch(`${base}/v2/models/cifar`)).status, 401);
    const ok = await fetch(`${base}/v2/models/cifar`, { headers: { Authorization: 'Bearer env-key' } });
    assert.equal((await ok.json()).name, 'cifar');
  } finally {
    keyed.child.kill('SIGTERM');
    await keyed.exit;
  }
});

test('serve with a bad limit flag: usage error, exit 2', async () => {
  const child = spawn(process.execPath, [MAIN, 'serve', '--model-dir', modelDir, '--max-images', '0'], {
    env: { ...process.env, INCEPTION_BACKEND: 'cpu' },
  });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(err, /--max-images must be an integer >= 1, got "0"/);
});
