import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error that becomes an HTTP status and a JSON body in the error shape of the route's protocol. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers (Retry-After, WWW-Authenticate, Allow). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Writes a JSON response (every answer of the API, errors included, is JSON). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/**
 * How a route's protocol shapes errors: this service's own `{ error: { status, code, message } }`, or
 * `{ error: "message" }` as the Open Inference Protocol (v2) and TF Serving define it.
 */
export type ErrorShape = 'native' | 'message';

export function sendError(res: ServerResponse, err: HttpError, shape: ErrorShape = 'native'): void {
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  sendJson(
    res,
    err.status,
    shape === 'native'
      ? { error: { status: err.status, code: err.code, message: err.message } }
      : { error: err.message },
  );
}

/** Throws 405 with an Allow header unless the request uses one of `allowed` (GET also allows HEAD). */
export function requireMethod(req: IncomingMessage, pathname: string, allowed: 'GET' | 'POST'): void {
  const methods = allowed === 'GET' ? ['GET', 'HEAD'] : [allowed];
  const method = req.method ?? 'GET';
  if (!methods.includes(method)) {
    throw new HttpError(405, 'method_not_allowed', `${method} ${pathname}: use ${allowed}`, {
      Allow: methods.join(', '),
    });
  }
}

/** A %-decoded path segment; a malformed escape is the client's error (400), not a server fault. */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(
      400,
      'bad_path',
      `path segment ${JSON.stringify(segment)} is not valid percent-encoding`,
    );
  }
}
