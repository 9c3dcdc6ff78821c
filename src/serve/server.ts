import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { decodeImage, ImageDecodeError } from '../data/decode';
import { tfjsExportFiles } from '../export/tfjs';
import { loadModelFolder, type ModelInfo } from '../io/model_folder';
import { DEFAULT_TOP_K, topK } from '../models/top_k';
import { loadHistory } from '../report/history';
import { renderReport } from '../report/report';
import { MicroBatcher } from './batcher';
import { classifier } from './engine';
import { HttpError, sendError, sendJson } from './http_error';
import { readRequestImages } from './request_images';
import { contentType, loadStaticFolder, type StaticFile, WEB_DIST_DIR } from './static_files';

export interface InferenceServerOptions {
  /** A model folder (model.json, labels.json, preprocessing.json); or give `model` and `info`. */
  modelDir?: string;
  model?: tf.LayersModel;
  info?: ModelInfo;
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
}

export interface InferenceServer {
  readonly server: http.Server;
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

function parseTop(url: URL, fallback: number, classes: number): number {
  const raw = url.searchParams.get('top');
  if (raw === null) return Math.min(fallback, classes);
  const k = Number(raw);
  if (!Number.isInteger(k) || k < 1) {
    throw new HttpError(400, 'bad_top', `top must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Math.min(k, classes);
}

/**
 * The HTTP inference service over one model folder: `POST /v1/predict`, `GET /v1/model`, `GET /healthz`,
 * the browser page at `/`, the tfjs export of the model under `/model/` and the report at `/report`.
 * Concurrent requests share the engine through a micro-batcher; every API answer, errors included, is JSON.
 */
export async function createInferenceServer(options: InferenceServerOptions): Promise<InferenceServer> {
  const loaded =
    options.model && options.info
      ? { model: options.model, info: options.info }
      : options.modelDir
        ? await loadModelFolder(options.modelDir)
        : undefined;
  if (!loaded) throw new Error('createInferenceServer: give modelDir, or model and info');
  const { model, info } = loaded;
  const host = options.host ?? SERVE_DEFAULTS.host;
  const maxBody = options.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes;
  const defaultTop = options.defaultTop ?? SERVE_DEFAULTS.defaultTop;
  const batcher = new MicroBatcher(
    classifier(model, info),
    options.maxBatch ?? SERVE_DEFAULTS.maxBatch,
    options.batchDelayMs ?? SERVE_DEFAULTS.batchDelayMs,
    options.targetBatchMs ?? SERVE_DEFAULTS.targetBatchMs,
  );
  const started = Date.now();

  const files = new Map<string, StaticFile>(await loadStaticFolder(options.webDir ?? WEB_DIST_DIR, '/'));
  for (const [name, body] of await tfjsExportFiles(model, info)) {
    files.set(`/model/${name}`, { type: contentType(name), body });
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
    const { images, multipart } = await readRequestImages(req, maxBody);
    const decoded = await Promise.all(
      images.map((img) =>
        decodeImage(img.bytes, info.preprocessing, { name: img.name }).catch((e: unknown) => {
          if (e instanceof ImageDecodeError) throw new HttpError(400, 'bad_image', e.message);
          throw e;
        }),
      ),
    );
    const probabilities = await Promise.all(decoded.map((x) => batcher.submit(x)));
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

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const only = (allowed: string) => {
      if (method !== allowed) {
        res.setHeader('Allow', allowed);
        throw new HttpError(405, 'method_not_allowed', `${method} ${url.pathname}: use ${allowed}`);
      }
    };
    switch (url.pathname) {
      case '/v1/predict':
        only('POST');
        return predict(req, res, url);
      case '/v1/model':
        only('GET');
        return sendJson(res, 200, modelDescription);
      case '/healthz':
        only('GET');
        return sendJson(res, 200, {
          status: draining ? 'draining' : 'ok',
          uptimeSeconds: (Date.now() - started) / 1000,
          queued: batcher.queued,
          busy: batcher.busy,
          batches: batcher.batches,
          batchSize: batcher.batchSize(),
          msPerImage: Math.round(batcher.msPerInput * 10) / 10,
          inFlight,
        });
      case '/report': {
        only('GET');
        const html = await reportHtml();
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': Buffer.byteLength(html),
        });
        res.end(html);
        return;
      }
    }
    const file = files.get(url.pathname === '/' ? '/index.html' : url.pathname);
    if (file && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.byteLength });
      res.end(method === 'HEAD' ? undefined : file.body);
      return;
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      throw new HttpError(404, 'page_not_built', 'the browser page is not built: run `npm run build`');
    }
    throw new HttpError(404, 'not_found', `no route ${method} ${url.pathname}`);
  }

  let inFlight = 0;
  let draining = false;
  const server = http.createServer((req, res) => {
    inFlight++;
    if (draining) res.setHeader('Connection', 'close');
    res.on('close', () => {
      inFlight--;
      if (draining) server.closeIdleConnections();
    });
    route(req, res).catch((err: unknown) => {
      const httpErr =
        err instanceof HttpError
          ? err
          : new HttpError(500, 'internal', (err as Error)?.message ?? String(err));
      if (httpErr.status === 500)
        console.error(`inception serve: ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`);
      if (res.headersSent) res.destroy();
      else {
        // The body may be only partly read (413/415): close the connection after this answer.
        if (httpErr.status === 413 || httpErr.status === 415) res.setHeader('Connection', 'close');
        sendError(res, httpErr);
      }
    });
  });
  server.requestTimeout = 60_000;

  return {
    server,
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
