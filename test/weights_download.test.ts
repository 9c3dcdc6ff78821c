// downloadWeights against a local HTTP server serving generated files: a good download lands verified in
// the cache and is reused without a second request; a checksum mismatch, a truncated body, a 404 and a
// refused connection each fail with one line naming the URL and leave nothing in the cache.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { downloadWeights, resolveUrl, weightsCacheDir } from '../src/weights/download';
import type { WeightsFile } from '../src/weights/registry';

/** Deterministic bytes (a fixed LCG), so the hashes are the same every run. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const GOOD = bytes(300_000, 1);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let server: http.Server;
let base: string;
const requests: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    switch (req.url) {
      case '/good.pth':
      case '/good.h5':
        res.writeHead(200, { 'Content-Length': GOOD.length });
        res.end(GOOD);
        return;
      case '/moved.pth':
        res.writeHead(302, { Location: '/good.pth' });
        res.end();
        return;
      case '/short.pth':
        // Promises the whole file, sends a third, then closes the connection.
        res.writeHead(200, { 'Content-Length': GOOD.length });
        res.write(GOOD.subarray(0, 100_000), () => res.socket?.destroy());
        return;
      case '/stalled.pth':
        // Headers and a first chunk, then nothing: the download must give up, not hang.
        res.writeHead(200, { 'Content-Length': GOOD.length });
        res.write(GOOD.subarray(0, 1000));
        return;
      default:
        res.writeHead(404);
        res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

async function freshCache(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'inception-cache-'));
}

/** Every entry under the cache's weights folder (temp files included). */
async function cacheEntries(cache: string): Promise<string[]> {
  return (await fs.readdir(weightsCacheDir(cache)).catch(() => [] as string[])).sort();
}

function file(name: string, hash: WeightsFile['hash']): WeightsFile {
  return { url: `https://example.invalid/models/${name}`, file: name, hash, includeTop: true };
}

test('resolveUrl keeps the registry URL, or puts the file name under an overriding base', () => {
  const f = file('a.pth', { algorithm: 'sha256', hex: 'ab' });
  assert.equal(resolveUrl(f, undefined), 'https://example.invalid/models/a.pth');
  assert.equal(resolveUrl(f, 'http://127.0.0.1:9/w/'), 'http://127.0.0.1:9/w/a.pth');
});

test('a verified download lands in the cache with its sidecar, and is reused without a second request', async () => {
  const cache = await freshCache();
  const f = file('good.pth', { algorithm: 'sha256', hex: sha256(GOOD).slice(0, 8), prefix: true });
  const progress: [number, number | null][] = [];
  requests.length = 0;
  const local = await downloadWeights(f, {
    cache,
    urlBase: base,
    progress: (r, t) => progress.push([r, t]),
  });
  assert.equal(local, path.join(weightsCacheDir(cache), 'good.pth'));
  assert.deepEqual(await fs.readFile(local), GOOD);
  assert.deepEqual(requests, ['/good.pth']);
  assert.deepEqual(progress.at(-1), [GOOD.length, GOOD.length]);
  const record = JSON.parse(await fs.readFile(`${local}.json`, 'utf8'));
  assert.equal(record.sha256, sha256(GOOD));
  assert.equal(record.size, GOOD.length);
  assert.deepEqual(await cacheEntries(cache), ['good.pth', 'good.pth.json']);
  // Second use: the sidecar matches, no request, no re-download.
  assert.equal(await downloadWeights(f, { cache, urlBase: base, progress: null }), local);
  assert.deepEqual(requests, ['/good.pth']);
});

test("an MD5-published file (Keras's) verifies by MD5 and records its SHA-256; redirects are followed", async () => {
  const cache = await freshCache();
  const h5 = file('good.h5', { algorithm: 'md5', hex: md5(GOOD) });
  const local = await downloadWeights(h5, { cache, urlBase: base, progress: null });
  assert.equal(JSON.parse(await fs.readFile(`${local}.json`, 'utf8')).sha256, sha256(GOOD));
  const moved = file('moved.pth', { algorithm: 'sha256', hex: sha256(GOOD) });
  assert.deepEqual(
    await fs.readFile(await downloadWeights(moved, { cache, urlBase: base, progress: null })),
    GOOD,
  );
});

test('a cached file changed on disk is re-verified, and replaced when it no longer matches', async () => {
  const cache = await freshCache();
  const f = file('good.pth', { algorithm: 'sha256', hex: sha256(GOOD) });
  const local = await downloadWeights(f, { cache, urlBase: base, progress: null });
  await fs.writeFile(local, Buffer.from('corrupted'));
  requests.length = 0;
  const lines: string[] = [];
  await downloadWeights(f, { cache, urlBase: base, progress: null, print: (l) => lines.push(l) });
  assert.deepEqual(requests, ['/good.pth']);
  assert.deepEqual(await fs.readFile(local), GOOD);
  assert.match(lines[0], /does not match its sha256/);
});

const failures: [string, WeightsFile, RegExp][] = [
  [
    'checksum mismatch',
    file('good.pth', { algorithm: 'sha256', hex: '0'.repeat(64) }),
    /good\.pth: checksum mismatch: sha256 is [0-9a-f]{64}, expected sha256 0{64}$/,
  ],
  [
    'truncated body',
    file('short.pth', { algorithm: 'sha256', hex: sha256(GOOD) }),
    /short\.pth: .*after \d+ of 300000 bytes \(truncated download\)$/,
  ],
  ['HTTP 404', file('missing.pth', { algorithm: 'sha256', hex: sha256(GOOD) }), /missing\.pth: HTTP 404/],
];

for (const [what, f, message] of failures) {
  test(`${what}: one line naming the URL, nothing left in the cache`, async () => {
    const cache = await freshCache();
    await assert.rejects(downloadWeights(f, { cache, urlBase: base, progress: null }), (e: Error) => {
      assert.match(e.message, message);
      assert.ok(e.message.startsWith(`${base}/${f.file}: `), e.message);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
    assert.deepEqual(await cacheEntries(cache), []);
  });
}

test('a stalled download times out: one line naming the URL, nothing left in the cache', async () => {
  const cache = await freshCache();
  const f = file('stalled.pth', { algorithm: 'sha256', hex: sha256(GOOD) });
  await assert.rejects(
    downloadWeights(f, { cache, urlBase: base, progress: null, timeoutSeconds: 0.3 }),
    /stalled\.pth: download failed after 1000 bytes \(no data for 0\.3 s\)$/,
  );
  assert.deepEqual(await cacheEntries(cache), []);
});

test('connection refused: one line naming the URL, nothing left in the cache', async () => {
  const cache = await freshCache();
  // A port that was just free: listen, note it, close.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const f = file('good.pth', { algorithm: 'sha256', hex: sha256(GOOD) });
  await assert.rejects(
    downloadWeights(f, { cache, urlBase: `http://127.0.0.1:${port}`, progress: null }),
    new RegExp(`^Error: http://127\\.0\\.0\\.1:${port}/good\\.pth: connection refused$`),
  );
  assert.deepEqual(await cacheEntries(cache), []);
});

test('offline: a file missing from the cache is an error, not a download', async () => {
  const cache = await freshCache();
  requests.length = 0;
  const f = file('good.pth', { algorithm: 'sha256', hex: sha256(GOOD) });
  await assert.rejects(
    downloadWeights(f, { cache, urlBase: base, offline: true }),
    /good\.pth: not in the cache .* downloads are off/,
  );
  assert.deepEqual(requests, []);
});
