import * as os from 'node:os';

/** What one request, and the server as a whole, may cost. Every field has a default (resolveLimits). */
export interface ServeLimits {
  /** Most images in one request (multipart files, v2 batch rows, TF Serving instances). */
  maxImages: number;
  /**
   * Most pixels one request's images may hold, summed over the images as their headers declare them
   * (width x height, checked before any pixel is decoded).
   */
  maxPixels: number;
  /**
   * Images decoded at the same time over all requests, in each of the two lanes (small images and header
   * reads; large images). Each decode holds one libuv thread (4 by default).
   */
  decodeConcurrency: number;
  /** Images waiting for a decode slot or an inference batch; past it requests get 503 + Retry-After. */
  maxQueue: number;
  /** Open connections; past it Node closes new sockets at once. */
  maxConnections: number;
  /** Time to receive a whole request, headers and body. */
  requestTimeoutMs: number;
  /** Time to receive the headers of a request (at most requestTimeoutMs). */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

/** Never below one phone photo (4000x4000), however small the model's input. */
const MIN_PIXELS_PER_REQUEST = 16_000_000;
/** Per image of a full request: room for photos much larger than the input, not for 16000x16000 bombs. */
const PIXELS_PER_IMAGE_PER_INPUT = 64;

/** The defaults that do not depend on the model or the machine (resolveLimits sizes the others). */
export const LIMIT_DEFAULTS = {
  maxImages: 32,
  maxQueue: 256,
  maxConnections: 256,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

/** The default pixel budget of a request for a model input of `inputShape`. */
export function defaultMaxPixels(maxImages: number, inputShape: readonly [number, number, number]): number {
  return Math.max(
    MIN_PIXELS_PER_REQUEST,
    maxImages * PIXELS_PER_IMAGE_PER_INPUT * inputShape[0] * inputShape[1],
  );
}

/** Two lanes of 2 fill libuv's 4 threads; more would only queue there, out of the pools' fair order. */
export const defaultDecodeConcurrency = () => Math.max(1, Math.min(2, os.availableParallelism()));

/**
 * The limits in effect: `given` where set, else defaults sized for an input of `inputShape` (the pixel
 * budget grows with the model's input, so a 224x224 model accepts more pixels than a 32x32 one).
 */
export function resolveLimits(
  given: Partial<ServeLimits>,
  inputShape: readonly [number, number, number],
): ServeLimits {
  const maxImages = given.maxImages ?? LIMIT_DEFAULTS.maxImages;
  const requestTimeoutMs = given.requestTimeoutMs ?? LIMIT_DEFAULTS.requestTimeoutMs;
  const limits: ServeLimits = {
    maxImages,
    maxPixels: given.maxPixels ?? defaultMaxPixels(maxImages, inputShape),
    decodeConcurrency: given.decodeConcurrency ?? defaultDecodeConcurrency(),
    maxQueue: given.maxQueue ?? LIMIT_DEFAULTS.maxQueue,
    maxConnections: given.maxConnections ?? LIMIT_DEFAULTS.maxConnections,
    requestTimeoutMs,
    // The headers are part of the request: their timeout never outlasts the whole request's.
    headersTimeoutMs: Math.min(given.headersTimeoutMs ?? LIMIT_DEFAULTS.headersTimeoutMs, requestTimeoutMs),
    keepAliveTimeoutMs: given.keepAliveTimeoutMs ?? LIMIT_DEFAULTS.keepAliveTimeoutMs,
  };
  for (const [key, value] of Object.entries(limits)) {
    if (!(Number.isInteger(value) && value >= 1))
      throw new Error(`serve limit ${key} must be an integer >= 1, got ${value}`);
  }
  return limits;
}
