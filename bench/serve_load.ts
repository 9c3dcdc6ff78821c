// Load test of `inception serve`: autocannon against the CLI in a child process, on loopback, bounded in
// request count and time. `run(ctx)` is the section the bench runner calls; `node dist/bench/serve_load.js`
// runs it alone (--json for one JSON document).
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { selectBackend } from '../src/backend/select';
import { saveModelFolder } from '../src/io/model_folder';
import { googlenet } from '../src/models/googlenet';

export interface ServeLoadOptions {
  /** A model folder to serve; default: an untrained googlenet of `width` at `size`x`size` in a temp dir. */
  modelDir?: string;
  width?: number;
  size?: number;
  /** Concurrent keep-alive connections. */
  connections?: number;
  /** Requests of the measured round (a warm-up round of a quarter of it runs first). */
  amount?: number;
  /** Hard cap on the measured round, seconds. */
  maxSeconds?: number;
  /** The JPEG posted by every request. */
  image?: string;
  log?: (message: string) => void;
}

export interface ServeLoadResult {
  model: string;
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

function startServer(modelDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--model-dir', modelDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
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

/** Starts `inception serve`, warms it up, runs the measured round and stops it with SIGTERM. */
export async function runServeLoad(options: ServeLoadOptions = {}): Promise<ServeLoadResult> {
  const log = options.log ?? (() => {});
  const connections = options.connections ?? 8;
  const amount = options.amount ?? 200;
  let modelDir = options.modelDir;
  let tmp: string | undefined;
  const width = options.width ?? 0.25;
  const size = options.size ?? 64;
  if (!modelDir) {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'serve-load-'));
    modelDir = tmp;
    await selectBackend();
    const model = googlenet({ inputShape: [size, size, 3], numClasses: 10, widthMultiplier: width });
    await saveModelFolder(modelDir, model, {
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
  }
  const body = await fs.readFile(options.image ?? DEFAULT_IMAGE);
  const { child, url } = await startServer(modelDir);
  try {
    const info = (await (await fetch(`${url}/v1/model`)).json()) as {
      inputShape: number[];
      parameters: number;
    };
    log(`serve: ${url}, warm-up ${Math.ceil(amount / 4)} requests`);
    await cannon(url, body, connections, Math.ceil(amount / 4), options.maxSeconds ?? 60);
    const rssBeforeMiB = await rssMiB(child.pid!);
    log(`serve: measuring ${amount} requests over ${connections} connections`);
    const round = cannon(url, body, connections, amount, options.maxSeconds ?? 60);
    const healthz = (await pollHealthz(url, round)).sort((a, b) => a - b);
    const result = await round;
    const rssAfterMiB = await rssMiB(child.pid!);
    return {
      model: `googlenet ${info.inputShape.join('x')}, ${info.parameters} params`,
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
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** The bench runner's section entry point (`bench/sections.ts` names this file). */
export async function run(ctx: { quick?: boolean; log?: (m: string) => void }) {
  const r = await runServeLoad({
    amount: ctx.quick ? 100 : 200,
    maxSeconds: ctx.quick ? 30 : 90,
    log: ctx.log,
  });
  return {
    columns: [
      { key: 'model', label: 'model' },
      { key: 'connections', label: 'conns', digits: 0 },
      { key: 'requests', label: 'requests', digits: 0 },
      { key: 'throughputRps', label: 'req/s', digits: 1 },
      { key: 'latencyP50Ms', label: 'p50 ms', digits: 0 },
      { key: 'latencyP99Ms', label: 'p99 ms', digits: 0 },
      { key: 'errors', label: 'errors', digits: 0 },
      { key: 'non2xx', label: 'non-2xx', digits: 0 },
      { key: 'healthzP99Ms', label: 'healthz p99 ms', digits: 0 },
      { key: 'rssBeforeMiB', label: 'RSS before MiB', digits: 1 },
      { key: 'rssAfterMiB', label: 'RSS after MiB', digits: 1 },
    ],
    rows: [{ status: 'ok', ...r }],
    notes: [
      'autocannon on loopback, POST /v1/predict with one CIFAR-10 JPEG; RSS of the server process after a warm-up round (before) and after the measured round (after).',
    ],
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      'model-dir': { type: 'string' },
      connections: { type: 'string' },
      amount: { type: 'string' },
      'max-seconds': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  runServeLoad({
    modelDir: values['model-dir'],
    connections: values.connections ? Number(values.connections) : undefined,
    amount: values.amount ? Number(values.amount) : undefined,
    maxSeconds: values['max-seconds'] ? Number(values['max-seconds']) : undefined,
    log: (m) => process.stderr.write(`${m}\n`),
  }).then(
    (r) => {
      if (values.json) console.log(JSON.stringify(r));
      else
        for (const [k, v] of Object.entries(r))
          console.log(`${k.padEnd(14)} ${typeof v === 'number' ? +v.toFixed(2) : v}`);
    },
    (e) => {
      process.stderr.write(`serve_load: error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
