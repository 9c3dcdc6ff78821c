import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { HttpError } from './http_error';

/** Routes open without the API key: liveness/readiness probes and the Prometheus scrape. */
export const OPEN_ROUTES = new Set(['/healthz', '/v2/health/live', '/v2/health/ready', '/metrics']);

/** The WWW-Authenticate header a 401 carries (RFC 6750). */
const BEARER_CHALLENGE = 'Bearer realm="inception"';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Checks `Authorization: Bearer KEY` on every route but OPEN_ROUTES when a key is set. Compares digests in
 * constant time, so response timing does not reveal how much of a guess was right.
 */
export function bearerCheck(apiKey: string | undefined): (req: IncomingMessage, pathname: string) => void {
  if (apiKey === undefined) return () => {};
  if (apiKey.length === 0) throw new Error('the API key is empty');
  const expected = digest(apiKey);
  return (req, pathname) => {
    if (OPEN_ROUTES.has(pathname)) return;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (m && timingSafeEqual(digest(m[1]), expected)) return;
    throw new HttpError(
      401,
      'unauthorized',
      m ? 'the bearer token is not the API key' : 'send the API key as Authorization: Bearer KEY',
      { 'WWW-Authenticate': BEARER_CHALLENGE },
    );
  };
}

/**
 * CORS for one allowed origin (`*` for any): sets the response headers and answers preflight `OPTIONS`
 * requests. Returns true when the request was a preflight and has been answered. No origin: CORS is off
 * and browsers on other origins cannot read answers.
 */
export function applyCors(
  origin: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  apiKeySet: boolean,
): boolean {
  if (origin === undefined) return false;
  // With one allowed origin every answer depends on the request's Origin, those without the CORS headers
  // too: a cache must not hand a copy made for another origin (or none) to the allowed one.
  if (origin !== '*') res.setHeader('Vary', 'Origin');
  if (origin !== '*' && req.headers.origin !== origin) return false;
  res.setHeader('Access-Control-Allow-Origin', origin);
  if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return false;
  res.writeHead(204, {
    'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
    'Access-Control-Allow-Headers': apiKeySet ? 'Content-Type, Authorization' : 'Content-Type',
    'Access-Control-Max-Age': '600',
  });
  res.end();
  return true;
}

/** Whether a listen address reaches only this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '::ffff:127.0.0.1';
}
