import { HttpError } from '../http_error';
import type { UploadedImage } from '../request_images';

const bad = (message: string) => new HttpError(400, 'bad_tensor', message);

/** Longest client value an error message quotes. */
const SHOWN_CHARS = 100;

/**
 * A client's JSON value for an error message, cut to SHOWN_CHARS: a 3 MB tensor sent in the wrong field is
 * not echoed back, and a value nested deeper than JSON.stringify's stack allows is not a 500.
 */
export function showValue(x: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(x) ?? String(x);
  } catch {
    return 'a value nested too deep to show';
  }
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}...` : text;
}

/** Deepest array nesting walked: JSON.parse accepts far deeper, which would overflow the walk's stack. */
const MAX_DEPTH = 8;
const tooDeep = (what: string) => bad(`${what}: nested deeper than ${MAX_DEPTH} levels`);

/**
 * The numbers of `data`, flat or nested to any depth (the row-major forms the v2 and TF Serving JSON
 * allow), as float32; exactly `count` finite numbers or a 400 naming `what`.
 */
export function flattenFloats(data: unknown, count: number, what: string): Float32Array {
  const out = new Float32Array(count);
  let n = 0;
  const walk = (x: unknown, depth: number): void => {
    if (Array.isArray(x)) {
      if (depth > MAX_DEPTH) throw tooDeep(what);
      for (const v of x) walk(v, depth + 1);
      return;
    }
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw bad(`${what}: element ${n} is ${showValue(x)}, not a finite number`);
    if (n >= count) throw bad(`${what}: more than the ${count} values its shape holds`);
    out[n++] = x;
  };
  walk(data, 0);
  if (n !== count) throw bad(`${what}: ${n} values, its shape holds ${count}`);
  return out;
}

/** Flattens nested arrays of anything else (BYTES elements), without looking inside objects. */
export function flattenItems(data: unknown, what: string, depth = 0): unknown[] {
  if (!Array.isArray(data)) return [data];
  if (depth > MAX_DEPTH) throw tooDeep(what);
  return data.flatMap((x) => flattenItems(x, what, depth + 1));
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** An image sent as a base64 string or a `{ "b64": "..." }` object (TF Serving's form). */
export function base64Image(value: unknown, name: string): UploadedImage {
  const text =
    typeof value === 'string'
      ? value
      : value && typeof value === 'object' && typeof (value as { b64?: unknown }).b64 === 'string'
        ? (value as { b64: string }).b64
        : undefined;
  if (text === undefined) throw bad(`${name}: expected a base64 string or {"b64": "..."}`);
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !BASE64.test(compact)) throw bad(`${name}: not base64 image bytes`);
  return { name, bytes: Buffer.from(compact, 'base64') };
}

export const shapeSize = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
