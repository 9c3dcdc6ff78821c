// Load test of `inception serve`: autocannon against the CLI in a child process, on loopback, bounded in
// request count and time: single-image requests at 32x32 and 224x224 with 1 and 16 clients. `run(ctx)` is the section the bench runner calls; `node dist/bench/serve_load.js`
// runs it alone (--json for one JSON document).
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { selectBackend } from '../src/backend/select';
import { saveModelFolder } from '../src/io/model_folder';
import { googlenet } from '../src/models/googlenet';

export interface ServeLoadOptions {
  /** A model folder to serve; default: an untrained googlenet of `width` at `size`x`size` in a temp dir. */
  modelDir?: string;
  width?: number;
  size?: number;
  /** Rounds to measure, one per count of concurrent keep-alive connections (clients). */
  connections?: number[];
  /** Requests of each measured round (a warm-up round of a quarter of it runs first). */
  amount?: number;
  /** Hard cap on each measured round, seconds. */
  maxSeconds?: number;
  /** The image posted by every request; default: a CIFAR-10 JPEG resized to `size`x`size`. */
  image?: string;
  log?: (message: string) => void;
  /** The server's OpenMP threads (OMP_NUM_THREADS); default: the environment's. */
  threads?: number;
}

export interface ServeLoadResult {
  model: string;
  /** Side of the posted JPEG (and of the model input). */
  imageSize: number;
  backend: string;
  connections: number;
  requests: number;
  seconds: number;
  throughputRps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
  non2xx: number;
  healthzP99Ms: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const DEFAULT_IMAGE = path.join(ROOT, 'data', 'cifar10-sample', 'val', 'ship', '0000.jpg');

async function rssMiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

function startServer(modelDir: string, threads?: number): Promise<{ child: ChildProcess; url: string }> {
  const env = threads ? { ...process.env, OMP_NUM_THREADS: String(threads) } : process.env;
  const child = spawn(process.execPath, [MAIN, 'serve', '--model-dir', modelDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 120 s: ${err.trim()}`)), 120_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err.trim().split('\n').pop()}`));
    });
  });
}

function cannon(url: string, body: Buffer, connections: number, amount: number, maxSeconds: number) {
  return new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/v1/predict?top=1`,
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body,
        connections,
        amount,
        timeout: 30,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    const cap = setTimeout(() => instance.stop(), maxSeconds * 1000);
    instance.on('done', () => clearTimeout(cap));
  });
}

/** Polls /healthz every 50 ms until `until` settles; returns the latencies (ms). */
async function pollHealthz(url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  until.finally(() => {
    done = true;
  });
  const latencies: number[] = [];
  while (!done) {
    const t0 = performance.now();
    await fetch(`${url}/healthz`).then((r) => r.arrayBuffer());
    latencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  return latencies;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : Number.NaN;

/** The posted image: a file, or the CIFAR sample JPEG resized to size x size (a single-image request). */
async function requestImage(size: number, file?: string): Promise<Buffer> {
  if (file) return fs.readFile(file);
  return sharp(DEFAULT_IMAGE).resize(size, size, { kernel: 'linear' }).jpeg({ quality: 90 }).toBuffer();
}

/** Saves an untrained googlenet of `width` at size x size as a model folder in a new temp dir. */
async function tempModelFolder(size: number, width: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'serve-load-'));
  await selectBackend();
  const model = googlenet({ inputShape: [size, size, 3], numClasses: 10, widthMultiplier: width });
  await saveModelFolder(dir, model, {
    model: 'googlenet',
    widthMultiplier: width,
    labels: Array.from({ length: 10 }, (_, i) => `class_${i}`),
    preprocessing: {
      inputShape: [size, size, 3],
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      resize: 'fill',
    },
  });
  model.dispose();
  return dir;
}

/**
 * Starts `inception serve`, then for each connection count runs a warm-up round and a measured round
 * (RSS of the server before and after the measured one), and stops it with SIGTERM.
 */
export async function runServeLoad(options: ServeLoadOptions = {}): Promise<ServeLoadResult[]> {
  const log = options.log ?? (() => {});
  const amount = options.amount ?? 200;
  const maxSeconds = options.maxSeconds ?? 60;
  const size = options.size ?? 64;
  const tmp = options.modelDir ? undefined : await tempModelFolder(size, options.width ?? 0.25);
  const modelDir = options.modelDir ?? tmp!;
  const body = await requestImage(size, options.image);
  const { child, url } = await startServer(modelDir, options.threads);
  try {
    const info = (await (await fetch(`${url}/v1/model`)).json()) as {
      inputShape: number[];
      parameters: number;
    };
    const results: ServeLoadResult[] = [];
    for (const connections of options.connections ?? [8]) {
      // autocannon needs at least one request per connection.
      const warmup = Math.max(connections, Math.ceil(amount / 4));
      const measured = Math.max(connections, amount);
      log(`serve ${size}x${size}: ${url}, ${connections} clients, warm-up ${warmup} requests`);
      await cannon(url, body, connections, warmup, maxSeconds);
      const rssBeforeMiB = await rssMiB(child.pid!);
      log(`serve ${size}x${size}: measuring ${measured} requests over ${connections} connections`);
      const round = cannon(url, body, connections, measured, maxSeconds);
      const healthz = (await pollHealthz(url, round)).sort((a, b) => a - b);
      const result = await round;
      const rssAfterMiB = await rssMiB(child.pid!);
      results.push({
        model: `googlenet ${info.inputShape.join('x')}, ${info.parameters} params`,
        imageSize: size,
        backend: process.env.INCEPTION_BACKEND || 'default',
        connections,
        requests: result.requests.total,
        seconds: result.duration,
        throughputRps: result.requests.total / result.duration,
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
        healthzP99Ms: percentile(healthz, 99),
        rssBeforeMiB,
        rssAfterMiB,
      });
    }
    return results;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Single-image requests at these sides, each with these numbers of concurrent clients. */
const SIZES = [32, 224];
const CLIENTS = [1, 16];

/** The bench runner's section entry point (`bench/sections.ts` names this file). */
export async function run(ctx: {
  quick?: boolean;
  width?: number;
  threads?: number;
  log?: (m: string) => void;
}) {
  const rows: Record<string, unknown>[] = [];
  for (const size of SIZES) {
    const r = await runServeLoad({
      size,
      width: ctx.width ?? 1,
      threads: ctx.threads,
      connections: CLIENTS,
      amount: ctx.quick ? (size > 64 ? 32 : 100) : size > 64 ? 160 : 400,
      maxSeconds: ctx.quick ? 30 : 90,
      log: ctx.log,
    });
    rows.push(...r.map((row) => ({ status: 'ok', ...row })));
  }
  return {
    columns: [
      { key: 'model', label: 'model' },
      { key: 'imageSize', label: 'image', digits: 0 },
      { key: 'connections', label: 'clients', digits: 0 },
      { key: 'requests', label: 'requests', digits: 0 },
      { key: 'throughputRps', label: 'req/s', digits: 1 },
      { key: 'latencyP50Ms', label: 'p50 ms', digits: 1 },
      { key: 'latencyP99Ms', label: 'p99 ms', digits: 0 },
      { key: 'errors', label: 'errors', digits: 0 },
      { key: 'non2xx', label: 'non-2xx', digits: 0 },
      { key: 'healthzP99Ms', label: 'healthz p99 ms', digits: 0 },
      { key: 'rssBeforeMiB', label: 'RSS before MiB', digits: 1 },
      { key: 'rssAfterMiB', label: 'RSS after MiB', digits: 1 },
    ],
    rows,
    notes: [
      'autocannon on loopback: POST /v1/predict with one JPEG of the model input size (a CIFAR-10 image, resized), 1 and 16 concurrent keep-alive clients, an untrained googlenet of the bench width, the server on the bench thread count (OMP_NUM_THREADS); RSS of the server process after a warm-up round (before) and after the measured round (after).',
    ],
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      'model-dir': { type: 'string' },
      size: { type: 'string' },
      width: { type: 'string' },
      connections: { type: 'string' },
      amount: { type: 'string' },
      'max-seconds': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  runServeLoad({
    modelDir: values['model-dir'],
    size: values.size ? Number(values.size) : undefined,
    width: values.width ? Number(values.width) : undefined,
    connections: values.connections ? values.connections.split(',').map(Number) : undefined,
    amount: values.amount ? Number(values.amount) : undefined,
    maxSeconds: values['max-seconds'] ? Number(values['max-seconds']) : undefined,
    log: (m) => process.stderr.write(`${m}\n`),
  }).then(
    (rows) => {
      if (values.json) console.log(JSON.stringify(rows));
      else
        for (const r of rows)
          console.log(
            Object.entries(r)
              .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(2) : v}`)
              .join(' '),
          );
    },
    (e) => {
      process.stderr.write(`serve_load: error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
