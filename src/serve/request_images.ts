import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { HttpError } from './http_error';

/** An uploaded image before decoding: its name (for errors and results) and its bytes. */
export interface UploadedImage {
  name: string;
  bytes: Uint8Array;
}

/** Raw image bodies the API accepts, besides multipart/form-data. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png'];

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `request body exceeds the limit of ${limit} bytes`);
}

/** The media type of a Content-Type header, lower-case, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/** Rejects an announced Content-Length over the limit before reading anything. */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
}

/** Reads the whole body, failing with 413 as soon as it passes `limit` bytes (the rest is discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // discard the rest so the response can still be read by the client
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function readMultipart(req: IncomingMessage, limit: number, maxFiles: number): Promise<UploadedImage[]> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: maxFiles, fileSize: limit, fields: 16 } });
    } catch (e) {
      reject(new HttpError(400, 'bad_multipart', `multipart/form-data: ${(e as Error).message}`));
      return;
    }
    const files: UploadedImage[] = [];
    let total = 0;
    let failed = false;
    const fail = (err: HttpError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume();
      reject(err);
    };
    parser.on('file', (field, stream, meta) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > limit) fail(tooLarge(limit));
        else chunks.push(chunk);
      });
      stream.on('limit', () => fail(tooLarge(limit)));
      stream.on('end', () => {
        files.push({ name: meta.filename || field, bytes: Buffer.concat(chunks) });
      });
    });
    parser.on('filesLimit', () =>
      fail(
        new HttpError(
          413,
          'too_many_images',
          `request holds more than ${maxFiles} images, over the limit per request (--max-images)`,
        ),
      ),
    );
    parser.on('error', (e: Error) =>
      fail(new HttpError(400, 'bad_multipart', `multipart/form-data: ${e.message}`)),
    );
    parser.on('close', () => {
      if (failed) return;
      if (files.length === 0) {
        fail(new HttpError(400, 'no_files', 'multipart/form-data request holds no file'));
        return;
      }
      resolve(files);
    });
    req.pipe(parser);
  });
}

/**
 * The images of a predict request: one raw `image/jpeg`/`image/png` body, or every file of a
 * `multipart/form-data` body. Throws HttpError 415 for other types, 413 past `limit` bytes, 400 when empty.
 */
export async function readRequestImages(
  req: IncomingMessage,
  limit: number,
  maxFiles: number,
): Promise<{ images: UploadedImage[]; multipart: boolean }> {
  const type = mediaType(req);
  const multipart = type === 'multipart/form-data';
  if (!multipart && !IMAGE_TYPES.includes(type)) {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `Content-Type ${JSON.stringify(type || '(none)')} is not supported; send ${IMAGE_TYPES.join(', ')} or multipart/form-data`,
    );
  }
  checkDeclaredLength(req, limit);
  if (multipart) return { images: await readMultipart(req, limit, maxFiles), multipart };
  const bytes = await readBody(req, limit);
  if (bytes.length === 0)
    throw new HttpError(400, 'empty_body', 'request body is empty: send the image bytes');
  return { images: [{ name: 'body', bytes }], multipart };
}

const JSON_TYPES = ['application/json', '', 'application/x-www-form-urlencoded', 'text/plain'];

/**
 * The JSON object body of a v2 or TF Serving request. Besides application/json it takes the types clients
 * put on JSON without being asked (none, curl -d's form-urlencoded, fetch's text/plain). Throws 415, 413
 * past `limit`, 400 on bad JSON or JSON that is not an object.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = mediaType(req);
  if (!JSON_TYPES.includes(type)) {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `Content-Type ${JSON.stringify(type)} is not supported; send application/json`,
    );
  }
  checkDeclaredLength(req, limit);
  const text = (await readBody(req, limit)).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, 'bad_json', `request body is not JSON: ${(e as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}
