// Downloads published weights into the cache folder: streamed to a temp file beside the target, hashed as
// it arrives, verified against the source's published hash, then renamed into place; a cut, short or wrong
// download leaves nothing in the cache. A sidecar JSON records the verified file's SHA-256, size and mtime,
// so a later use checks the file cheaply (and re-hashes it when it changed).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { tempSibling, writeFileAtomic } from '../io/atomic';
import { cacheDir } from '../io/cache_dir';
import { formatBar } from '../training/progress_bar';
import type { PublishedHash, WeightsFile } from './registry';

/** Bytes received so far and the total (null when the server sent no Content-Length). */
export type DownloadProgress = (received: number, total: number | null) => void;

export interface DownloadOptions {
  /** The cache folder; default cacheDir() (INCEPTION_HOME, else ~/.cache/inception-net). */
  cache?: string;
  /**
   * Replaces everything up to the last `/` of each URL (tests serve files locally); default the
   * INCEPTION_WEIGHTS_URL_BASE environment variable, else the registry's URL as is.
   */
  urlBase?: string;
  /** Seconds without data before a download is abandoned. Default 60. */
  timeoutSeconds?: number;
  /** Called as bytes arrive; default a bar on stderr when stderr is a TTY, else nothing. */
  progress?: DownloadProgress | null;
  /** Refuse to download (the file must already be in the cache); default INCEPTION_OFFLINE=1. */
  offline?: boolean;
  /** One line per event worth telling a person (downloading, re-verifying). */
  print?: (line: string) => void;
}

/** What the sidecar `<file>.json` records of a verified file. */
interface VerifiedRecord {
  url: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  /** The published hash the file was checked against. */
  published: PublishedHash;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_SECONDS = 60;

/** The cache sub-folder of downloaded weights. */
export function weightsCacheDir(cache = cacheDir()): string {
  return path.join(cache, 'weights');
}

/** The URL a file is fetched from: the registry's, or its name under `base` when one is given. */
export function resolveUrl(file: WeightsFile, base = process.env.INCEPTION_WEIGHTS_URL_BASE): string {
  if (!base) return file.url;
  return `${base.replace(/\/+$/, '')}/${file.url.slice(file.url.lastIndexOf('/') + 1)}`;
}

/** Whether `digests` (hex by algorithm) satisfy the published hash. */
function matches(hash: PublishedHash, digests: Record<string, string>): boolean {
  const digest = digests[hash.algorithm];
  return hash.prefix ? digest.startsWith(hash.hex) : digest === hash.hex;
}

function describeHash(hash: PublishedHash): string {
  return `${hash.algorithm}${hash.prefix ? ' prefix' : ''} ${hash.hex}`;
}

/** A bar on stderr (Keras get_file's bytes bar), redrawn in place; null when stderr is not a terminal. */
export function stderrProgress(): DownloadProgress | null {
  if (!process.stderr.isTTY) return null;
  let last = 0;
  return (received, total) => {
    const now = Date.now();
    const done = total !== null && received >= total;
    if (!done && now - last < 100) return;
    last = now;
    const line = total ? formatBar(received, total) : `${(received / 1e6).toFixed(1)} MB`;
    process.stderr.write(`\r${line}${done ? '\n' : ''}`);
  };
}

/** Streams `file` through hashes of both algorithms a source may publish. */
async function hashFile(file: string): Promise<Record<string, string>> {
  const hashes = { sha256: createHash('sha256'), md5: createHash('md5') };
  await pipeline(createReadStream(file), async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) for (const h of Object.values(hashes)) h.update(chunk);
  });
  return { sha256: hashes.sha256.digest('hex'), md5: hashes.md5.digest('hex') };
}

async function readRecord(file: string): Promise<VerifiedRecord | null> {
  try {
    return JSON.parse(await fs.readFile(`${file}.json`, 'utf8')) as VerifiedRecord;
  } catch {
    return null;
  }
}

async function writeRecord(file: string, url: string, published: PublishedHash, sha256: string) {
  const stat = await fs.stat(file);
  const record: VerifiedRecord = { url, size: stat.size, mtimeMs: stat.mtimeMs, sha256, published };
  await writeFileAtomic(`${file}.json`, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Whether the cached `target` is the published file: its sidecar record matches the file's size and
 * mtime and the published hash (cheap), or else re-hashing it does (and the record is rewritten).
 */
async function cachedFileIsGood(target: string, file: WeightsFile, url: string): Promise<boolean> {
  const stat = await fs.stat(target).catch(() => null);
  if (!stat?.isFile()) return false;
  const record = await readRecord(target);
  if (
    record &&
    record.size === stat.size &&
    record.mtimeMs === stat.mtimeMs &&
    JSON.stringify(record.published) === JSON.stringify(file.hash)
  ) {
    return true;
  }
  const digests = await hashFile(target);
  if (!matches(file.hash, digests)) return false;
  await writeRecord(target, record?.url ?? url, file.hash, digests.sha256);
  return true;
}

/** GET `url`, following redirects; resolves with the final response (status 200) or rejects one line. */
function get(url: string, timeoutMs: number, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new Error(`${url}: not a valid URL`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new Error(`${url}: only http and https URLs can be downloaded`));
      return;
    }
    const request = client.get(parsed, { timeout: timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new Error(`${url}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        get(new URL(res.headers.location, parsed).href, timeoutMs, redirects + 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`));
        return;
      }
      resolve(res);
    });
    request.on('timeout', () => request.destroy(new Error(`no data for ${timeoutMs / 1000} s`)));
    request.on('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'ECONNREFUSED'
          ? 'connection refused'
          : e.code === 'ENOTFOUND'
            ? `host ${parsed.hostname} not found`
            : e.message;
      reject(new Error(`${url}: ${why}`));
    });
  });
}

/** Streams `res` into `tmp`, hashing as it goes; rejects when the body ends short of its Content-Length. */
async function receive(
  res: http.IncomingMessage,
  url: string,
  tmp: string,
  timeoutMs: number,
  progress: DownloadProgress | null,
): Promise<Record<string, string>> {
  const length = res.headers['content-length'];
  const total = length === undefined ? null : Number(length);
  const hashes: Record<string, Hash> = { sha256: createHash('sha256'), md5: createHash('md5') };
  let received = 0;
  res.setTimeout(timeoutMs, () => res.destroy(new Error(`no data for ${timeoutMs / 1000} s`)));
  try {
    await pipeline(
      res,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          for (const h of Object.values(hashes)) h.update(chunk);
          received += chunk.length;
          progress?.(received, total);
          yield chunk;
        }
      },
      createWriteStream(tmp, { flags: 'wx' }),
    );
  } catch (e) {
    const message = (e as Error).message;
    const cut = message === 'aborted' || (e as NodeJS.ErrnoException).code === 'ECONNRESET';
    throw new Error(
      cut
        ? `${url}: connection closed after ${received}${total === null ? '' : ` of ${total}`} bytes (truncated download)`
        : `${url}: download failed after ${received} bytes (${message})`,
    );
  }
  if (!res.complete || (total !== null && received !== total)) {
    throw new Error(
      `${url}: body ended after ${received}${total === null ? '' : ` of ${total}`} bytes (truncated download)`,
    );
  }
  return Object.fromEntries(Object.entries(hashes).map(([k, h]) => [k, h.digest('hex')]));
}

/**
 * The path of `file` in the cache, downloading it first when it is missing or fails verification. The
 * download is checked against the published hash before it is renamed into place; on any failure the
 * temp file is removed and the error is one line naming the URL and what happened.
 */
export async function downloadWeights(file: WeightsFile, options: DownloadOptions = {}): Promise<string> {
  const dir = weightsCacheDir(options.cache);
  const target = path.join(dir, file.file);
  const url = resolveUrl(file, options.urlBase);
  if (await cachedFileIsGood(target, file, url)) return target;
  if (await fs.stat(target).catch(() => null)) {
    options.print?.(`${target}: does not match its ${describeHash(file.hash)}; downloading it again`);
    // A bad file is never used, and never left behind if the new download fails.
    await fs.rm(target, { force: true });
    await fs.rm(`${target}.json`, { force: true });
  }
  const offline = options.offline ?? process.env.INCEPTION_OFFLINE === '1';
  if (offline) {
    throw new Error(
      `${url}: not in the cache (${target}) and downloads are off (INCEPTION_OFFLINE); pass the file itself instead`,
    );
  }
  await fs.mkdir(dir, { recursive: true });
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const progress = options.progress === undefined ? stderrProgress() : options.progress;
  options.print?.(`downloading ${url} to ${target}`);
  const tmp = tempSibling(target);
  try {
    const res = await get(url, timeoutMs);
    const digests = await receive(res, url, tmp, timeoutMs, progress);
    if (!matches(file.hash, digests)) {
      throw new Error(
        `${url}: checksum mismatch: ${file.hash.algorithm} is ${digests[file.hash.algorithm]}, expected ${describeHash(file.hash)}`,
      );
    }
    // The sidecar is written after the rename: a crash between the two leaves a file that is re-hashed.
    await fs.rename(tmp, target);
    await writeRecord(target, url, file.hash, digests.sha256);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  return target;
}
