import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { tfjsExportFiles } from '../export/tfjs';
import { classifier, type InferenceOptions } from '../inference/classify';
import { loadModelFolder, type ModelInfo } from '../io/model_folder';
import { DEFAULT_TOP_K, topK } from '../models/top_k';
import { folderPrecision } from '../quantize/precision';
import { loadHistory } from '../report/history';
import { renderReport } from '../report/report';
import { applyCors, bearerCheck } from './access';
import { MicroBatcher } from './batcher';
import type { ServeContext } from './context';
import { type ErrorShape, HttpError, requireMethod, sendError, sendJson } from './http_error';
import { ImageDecoder } from './image_decoder';
import { resolveLimits, type ServeLimits } from './limits';
import { ServeMetrics } from './metrics';
import { handleTfServing, tfServingRouteLabel } from './protocols/tf_serving';
import { handleV2, v2RouteLabel } from './protocols/v2';
import { checkDeclaredLength, readRequestImages } from './request_images';
import { contentType, loadStaticFolder, type StaticFile, WEB_DIST_DIR } from './static_files';

/** `precision` (and int8 `ranges`) are checked, and the batch-1 plan built, before the server listens. */
export interface InferenceServerOptions extends InferenceOptions {
  /** A model folder (model.json, labels.json, preprocessing.json); or give `model` and `info`. */
  modelDir?: string;
  model?: tf.LayersModel;
  info?: ModelInfo;
  /** The name clients address the model by in /v2/models/{name} and /v1/models/{name}. Default: the folder's name, else the model's. */
  name?: string;
  /** Default 127.0.0.1: reachable from this machine only unless asked otherwise. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Largest accepted request body. Default 10 MiB. */
  maxBodyBytes?: number;
  /** Most images per inference batch. Default 8. */
  maxBatch?: number;
  /** How long a partial batch waits for more images. Default 2 ms. */
  batchDelayMs?: number;
  /** Batches are sized to block the event loop about this long (from the measured time per image). Default 100. */
  targetBatchMs?: number;
  /** Default top-k when the request gives no `?top=`. Default 5. */
  defaultTop?: number;
  /** Where the bundled page lives. Default dist/web. */
  webDir?: string;
  /** Per-request budget, queue, connection and timeout limits; unset fields get resolveLimits' defaults. */
  limits?: Partial<ServeLimits>;
  /** When set, every route but the health probes and /metrics needs `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** The one origin (or `*`) whose browser pages may call the API; default none (CORS off). */
  corsOrigin?: string;
}

export interface InferenceServer {
  readonly server: http.Server;
  /** The name the model is served under. */
  readonly name: string;
  /** The limits in effect. */
  readonly limits: ServeLimits;
  /** Starts listening; resolves to the base URL (`http://127.0.0.1:PORT`). */
  listen(): Promise<string>;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
  /** Requests being handled right now. */
  readonly inFlight: number;
}

/** What createInferenceServer (and so `inception serve`) uses for an option it is not given. */
export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  maxBodyBytes: 10 * 1024 * 1024,
  maxBatch: 8,
  batchDelayMs: 2,
  targetBatchMs: 100,
  defaultTop: DEFAULT_TOP_K,
};
/** How often Node checks request and headers timeouts (its default, 30 s, lets slow clients overstay). */
const TIMEOUT_CHECK_MS = 1000;

function parseTop(url: URL, fallback: number, classes: number): number {
  const raw = url.searchParams.get('top');
  if (raw === null) return Math.min(fallback, classes);
  const k = Number(raw);
  if (!Number.isInteger(k) || k < 1) {
    throw new HttpError(400, 'bad_top', `top must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Math.min(k, classes);
}

/** v2 and TF Serving answer errors as `{ "error": "..." }`; the service's own routes as objects. */
function errorShape(pathname: string): ErrorShape {
  return pathname.startsWith('/v2') || pathname.startsWith('/v1/models/') ? 'message' : 'native';
}

const OWN_ROUTES = new Set(['/v1/predict', '/v1/model', '/healthz', '/report', '/metrics']);

/** The metrics label of a path: a route template, so scanners cannot blow up the label count. */
function routeLabel(pathname: string, files: Map<string, StaticFile>): string {
  if (OWN_ROUTES.has(pathname)) return pathname;
  const protocol = v2RouteLabel(pathname) ?? tfServingRouteLabel(pathname);
  if (protocol) return protocol;
  if (pathname.startsWith('/model/')) return '/model/*';
  if (pathname === '/' || files.has(pathname)) return 'static';
  return 'other';
}

/** The request's URL, or null for a target that does not parse (`GET http://[`), which route answers 400. */
function requestUrl(req: http.IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/** Whether an error means the client went away (aborted upload, reset connection), not a server fault. */
function clientGone(req: http.IncomingMessage, err: unknown): boolean {
  return req.socket.destroyed || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET';
}

/**
 * The HTTP inference service over one model folder: `POST /v1/predict`, `GET /v1/model`, `GET /healthz`,
 * the Open Inference Protocol under `/v2`, TF Serving's `/v1/models/{name}:predict`, Prometheus `/metrics`,
 * the browser page at `/`, the tfjs export of the model under `/model/` and the report at `/report`.
 * Concurrent requests share the engine through a micro-batcher and a fair decode pool, within per-request
 * budgets; every API answer, errors included, is JSON.
 */
export async function createInferenceServer(options: InferenceServerOptions): Promise<InferenceServer> {
  const loadStarted = performance.now();
  const loaded =
    options.model && options.info
      ? { model: options.model, info: options.info }
      : options.modelDir
        ? await loadModelFolder(options.modelDir)
        : undefined;
  if (!loaded) throw new Error('createInferenceServer: give modelDir, or model and info');
  const modelLoadSeconds = (performance.now() - loadStarted) / 1000;
  const { model, info } = loaded;
  const name =
    options.name ?? (options.modelDir ? path.basename(path.resolve(options.modelDir)) : model.name);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    throw new Error(
      `model name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' (set one with --name)`,
    );
  const host = options.host ?? SERVE_DEFAULTS.host;
  const maxBody = options.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes;
  const defaultTop = options.defaultTop ?? SERVE_DEFAULTS.defaultTop;
  const limits = resolveLimits(options.limits ?? {}, info.preprocessing.inputShape);
  const authorize = bearerCheck(options.apiKey);

  let inFlight = 0;
  let draining = false;
  // The decoder and the batcher report to `metrics`, whose gauges read them back when scraped.
  const decoder = new ImageDecoder(info.preprocessing, limits, () => metrics.decodeFailures.inc());
  const runBatch = classifier(
    model,
    info,
    options.ranges
      ? { precision: options.precision, ranges: options.ranges }
      : folderPrecision(info, options.precision),
  );
  const batcher = new MicroBatcher(
    async (inputs: Float32Array[]) => {
      const t0 = performance.now();
      const out = await runBatch(inputs);
      metrics.observeBatch(inputs.length, (performance.now() - t0) / 1000);
      return out;
    },
    options.maxBatch ?? SERVE_DEFAULTS.maxBatch,
    options.batchDelayMs ?? SERVE_DEFAULTS.batchDelayMs,
    options.targetBatchMs ?? SERVE_DEFAULTS.targetBatchMs,
    () => decoder.waiting + decoder.active,
  );
  const metrics = new ServeMetrics(
    {
      decodeWaiting: () => decoder.waiting,
      inferenceQueued: () => batcher.queued,
      inFlight: () => inFlight,
    },
    modelLoadSeconds,
  );
  const started = Date.now();

  const ctx: ServeContext = {
    name,
    info,
    maxBodyBytes: maxBody,
    decoder,
    admit(count) {
      const waiting = decoder.waiting + batcher.queued;
      // An empty queue takes any request (maxImages bounds it), so a maxQueue below maxImages cannot lock out big ones.
      if (waiting === 0 || waiting + count <= limits.maxQueue) return;
      const seconds = Math.max(1, Math.ceil(((waiting + count) * batcher.msPerInput) / 1000));
      throw new HttpError(
        503,
        'queue_full',
        `the server is busy: ${waiting} images queued, the limit is ${limits.maxQueue}; retry in ${seconds} s`,
        { 'Retry-After': String(seconds) },
      );
    },
    classify: (inputs) => Promise.all(inputs.map((x) => batcher.submit(x))),
    ready: () => !draining,
  };

  const files = new Map<string, StaticFile>(await loadStaticFolder(options.webDir ?? WEB_DIST_DIR, '/'));
  for (const [file, body] of await tfjsExportFiles(model, info)) {
    files.set(`/model/${file}`, { type: contentType(file), body });
  }
  let report: Promise<string> | undefined;
  const reportHtml = () => {
    report ??= (async () => {
      if (options.modelDir) {
        const saved = await fs.readFile(path.join(options.modelDir, 'report.html'), 'utf8').catch(() => null);
        if (saved !== null) return saved;
      }
      return renderReport({
        info,
        history: options.modelDir ? await loadHistory(options.modelDir) : null,
        modelName: model.name,
        parameters: model.countParams(),
      });
    })();
    return report;
  };

  const modelDescription = {
    name: model.name,
    servedAs: name,
    model: info.model,
    widthMultiplier: info.widthMultiplier,
    labels: info.labels,
    inputShape: info.preprocessing.inputShape,
    preprocessing: info.preprocessing,
    parameters: model.countParams(),
    tfjsModel: '/model/model.json',
  };

  async function predict(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const k = parseTop(url, defaultTop, info.labels.length);
    ctx.admit(1);
    const { images, multipart } = await readRequestImages(req, maxBody, limits.maxImages);
    ctx.admit(images.length);
    const probabilities = await ctx.classify(await ctx.decoder.decode(images));
    const results = probabilities.map((p, i) => ({
      file: images[i].name,
      predictions: topK(p, info.labels, k),
    }));
    sendJson(
      res,
      200,
      multipart ? { model: model.name, results } : { model: model.name, predictions: results[0].predictions },
    );
  }

  async function route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL | null,
    expectsContinue: boolean,
  ): Promise<void> {
    if (!url)
      throw new HttpError(400, 'bad_url', `request target ${JSON.stringify(req.url)} is not a valid URL`);
    const method = req.method ?? 'GET';
    const pathname = url.pathname;
    if (applyCors(options.corsOrigin, req, res, options.apiKey !== undefined)) return;
    authorize(req, pathname);
    if (expectsContinue) {
      // Refuse an announced oversize body before the client sends it (no `100 Continue` first).
      checkDeclaredLength(req, maxBody);
      res.writeContinue();
    }
    switch (pathname) {
      case '/v1/predict':
        requireMethod(req, pathname, 'POST');
        return predict(req, res, url);
      case '/v1/model':
        requireMethod(req, pathname, 'GET');
        return sendJson(res, 200, modelDescription);
      case '/healthz':
        requireMethod(req, pathname, 'GET');
        return sendJson(res, 200, {
          status: draining ? 'draining' : 'ok',
          uptimeSeconds: (Date.now() - started) / 1000,
          queued: batcher.queued,
          decodeWaiting: ctx.decoder.waiting,
          busy: batcher.busy,
          batches: batcher.batches,
          batchSize: batcher.batchSize(),
          msPerImage: Math.round(batcher.msPerInput * 10) / 10,
          inFlight,
        });
      case '/metrics': {
        requireMethod(req, pathname, 'GET');
        const text = await metrics.registry.metrics();
        res.writeHead(200, {
          'Content-Type': metrics.registry.contentType,
          'Content-Length': Buffer.byteLength(text),
        });
        res.end(text);
        return;
      }
      case '/report': {
        requireMethod(req, pathname, 'GET');
        const html = await reportHtml();
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': Buffer.byteLength(html),
        });
        res.end(html);
        return;
      }
    }
    if (await handleV2(req, res, pathname, ctx)) return;
    if (await handleTfServing(req, res, pathname, ctx)) return;
    const isPage = pathname === '/' || pathname === '/index.html';
    const file = files.get(isPage ? '/index.html' : pathname);
    if (file || isPage) requireMethod(req, pathname, 'GET');
    if (file) {
      res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.byteLength });
      res.end(method === 'HEAD' ? undefined : file.body);
      return;
    }
    if (isPage) {
      throw new HttpError(404, 'page_not_built', 'the browser page is not built: run `npm run build`');
    }
    throw new HttpError(404, 'not_found', `no route ${method} ${pathname}`);
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse, expectsContinue: boolean): void {
    const t0 = performance.now();
    // Parsed here, not thrown here: an exception in the request listener would end the process.
    const url = requestUrl(req);
    const pathname = url?.pathname ?? '';
    inFlight++;
    if (draining) res.setHeader('Connection', 'close');
    let abandoned = false;
    res.on('close', () => {
      inFlight--;
      const status = abandoned || !res.writableFinished ? 499 : res.statusCode;
      metrics.observeRequest(
        routeLabel(pathname, files),
        req.method ?? 'GET',
        status,
        (performance.now() - t0) / 1000,
      );
      if (draining) server.closeIdleConnections();
    });
    route(req, res, url, expectsContinue).catch((err: unknown) => {
      if (!(err instanceof HttpError) && clientGone(req, err)) {
        // The client hung up mid-request: nobody to answer, and not a fault of the server.
        abandoned = true;
        res.destroy();
        return;
      }
      const httpErr =
        err instanceof HttpError
          ? err
          : new HttpError(500, 'internal', (err as Error)?.message ?? String(err));
      if (httpErr.status === 500)
        console.error(`inception serve: ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`);
      else metrics.rejected.inc({ code: httpErr.code });
      if (res.headersSent) res.destroy();
      else {
        // The body may be only partly read (413, 415, 503 before reading): close after this answer.
        if (!req.complete) res.setHeader('Connection', 'close');
        sendError(res, httpErr, errorShape(pathname));
      }
    });
  }

  const server = http.createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_MS }, (req, res) =>
    handle(req, res, false),
  );
  server.on('checkContinue', (req, res) => handle(req, res, true));
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;

  return {
    server,
    name,
    limits,
    get inFlight() {
      return inFlight;
    },
    listen: () =>
      new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? SERVE_DEFAULTS.port, host, () => {
          server.off('error', reject);
          const addr = server.address() as AddressInfo;
          const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          resolve(`http://${shownHost}:${addr.port}`);
        });
      }),
    close: async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await batcher.idle();
    },
  };
}
