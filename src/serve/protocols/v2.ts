// The Open Inference Protocol (KServe v2 / Triton) REST/JSON endpoints, with Triton's classification
// extension. Errors are `{ "error": "message" }` as the protocol defines them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServeContext } from '../context';
import { decodePathSegment, HttpError, requireMethod, sendJson } from '../http_error';
import { readJsonBody } from '../request_images';
import { base64Image, flattenFloats, flattenItems, shapeSize, showValue } from './tensors';

export const V2_INPUT = 'input';
export const V2_OUTPUT = 'probabilities';
const VERSION = '1';
const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer))?$/;

interface InferInput {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  data?: unknown;
}

interface RequestedOutput {
  name?: unknown;
  parameters?: { classification?: unknown; binary_data?: unknown };
}

const bad = (message: string) => new HttpError(400, 'bad_request', message);

/** The template of a v2 path for metrics labels (bounded cardinality), or undefined for other paths. */
export function v2RouteLabel(pathname: string): string | undefined {
  if (pathname === '/v2' || pathname === '/v2/health/live' || pathname === '/v2/health/ready')
    return pathname;
  const m = MODEL_PATH.exec(pathname);
  if (!m) return undefined;
  return `/v2/models/{name}${m[2] ? '/versions/{version}' : ''}${m[3] ? `/${m[3]}` : ''}`;
}

export function modelMetadata(ctx: ServeContext) {
  const [h, w, c] = ctx.info.preprocessing.inputShape;
  return {
    name: ctx.name,
    versions: [VERSION],
    platform: 'tensorflowjs_layers',
    inputs: [{ name: V2_INPUT, datatype: 'FP32', shape: [-1, h, w, c] }],
    outputs: [{ name: V2_OUTPUT, datatype: 'FP32', shape: [-1, ctx.info.labels.length] }],
    parameters: {
      // Not part of the protocol's metadata schema: how to send raw images instead of a tensor.
      image_input: `${V2_INPUT} as BYTES, shape [N], base64 JPEG/PNG, preprocessed by the server`,
      labels: ctx.info.labels,
    },
  };
}

/** The model inputs of an infer request, admitted: a preprocessed FP32 batch, or BYTES images decoded here. */
async function inputsOf(body: Record<string, unknown>, ctx: ServeContext): Promise<Float32Array[]> {
  if (!Array.isArray(body.inputs) || body.inputs.length !== 1)
    throw bad(`"inputs" must hold exactly one tensor, named "${V2_INPUT}"`);
  const input = body.inputs[0] as InferInput;
  if (input?.name !== V2_INPUT)
    throw bad(`unknown input ${showValue(input?.name)}: this model takes "${V2_INPUT}"`);
  const shape = input.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw bad(`input "${V2_INPUT}": "shape" must be an array of non-negative integers`);
  const [h, w, c] = ctx.info.preprocessing.inputShape;
  if (input.datatype === 'FP32') {
    if (shape.length !== 4 || shape[1] !== h || shape[2] !== w || shape[3] !== c)
      throw bad(`input "${V2_INPUT}": FP32 shape must be [N, ${h}, ${w}, ${c}], got [${shape}]`);
    const n = shape[0];
    if (n < 1) throw bad(`input "${V2_INPUT}": the batch is empty`);
    ctx.decoder.checkCount(n);
    ctx.admit(n);
    const flat = flattenFloats(input.data, shapeSize(shape), `input "${V2_INPUT}" data`);
    const size = h * w * c;
    return Array.from({ length: n }, (_, i) => flat.subarray(i * size, (i + 1) * size));
  }
  if (input.datatype === 'BYTES') {
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1)) || shape[0] < 1)
      throw bad(`input "${V2_INPUT}": BYTES shape must be [N] or [N, 1], got [${shape}]`);
    ctx.decoder.checkCount(shape[0]);
    const items = flattenItems(input.data, `input "${V2_INPUT}" data`);
    if (items.length !== shape[0])
      throw bad(`input "${V2_INPUT}": ${items.length} elements, its shape holds ${shape[0]}`);
    ctx.admit(items.length);
    return ctx.decoder.decode(items.map((x, i) => base64Image(x, `${V2_INPUT}[${i}]`)));
  }
  throw bad(
    `input "${V2_INPUT}": datatype ${showValue(input.datatype)} is not supported; send FP32 [N, ${h}, ${w}, ${c}] or BYTES [N] images`,
  );
}

/** The k of the classification extension, or 0 for raw probabilities. */
function classificationOf(outputs: unknown, classes: number): number {
  if (outputs === undefined) return 0;
  if (!Array.isArray(outputs) || outputs.length !== 1)
    throw bad(`"outputs" must name one output, "${V2_OUTPUT}"`);
  const out = outputs[0] as RequestedOutput;
  if (out?.name !== V2_OUTPUT)
    throw bad(`unknown output ${showValue(out?.name)}: this model gives "${V2_OUTPUT}"`);
  if (out.parameters?.binary_data === true)
    throw bad('binary tensor data is not supported: ask for JSON ("binary_data": false)');
  const k = out.parameters?.classification;
  if (k === undefined) return 0;
  if (!Number.isInteger(k) || (k as number) < 1)
    throw bad(`"classification" must be a positive integer, got ${showValue(k)}`);
  return Math.min(k as number, classes);
}

/** Triton's classification strings, "score:index:label", most probable first. */
function classify(probs: Float32Array, k: number, labels: string[]): string[] {
  return Array.from(probs, (p, i) => [p, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([p, i]) => `${p.toFixed(6)}:${i}:${labels[i]}`);
}

async function infer(req: IncomingMessage, res: ServerResponse, ctx: ServeContext): Promise<void> {
  if (req.headers['inference-header-content-length'] !== undefined)
    throw bad('the binary tensor extension is not supported: send the whole request as JSON');
  ctx.admit(1);
  const request = await readJsonBody(req, ctx.maxBodyBytes);
  const k = classificationOf(request.outputs, ctx.info.labels.length);
  // inputsOf admits the batch (BYTES: before decoding it).
  const inputs = await inputsOf(request, ctx);
  const probs = await ctx.classify(inputs);
  const classes = ctx.info.labels.length;
  const output = k
    ? {
        name: V2_OUTPUT,
        datatype: 'BYTES',
        shape: [probs.length, k],
        data: probs.flatMap((p) => classify(p, k, ctx.info.labels)),
      }
    : {
        name: V2_OUTPUT,
        datatype: 'FP32',
        shape: [probs.length, classes],
        data: probs.flatMap((p) => Array.from(p)),
      };
  sendJson(res, 200, {
    model_name: ctx.name,
    model_version: VERSION,
    ...(typeof request.id === 'string' ? { id: request.id } : {}),
    outputs: [output],
  });
}

/** Answers a /v2 request; returns false when the path is not part of the protocol. */
export async function handleV2(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  ctx: ServeContext,
): Promise<boolean> {
  if (pathname === '/v2') {
    requireMethod(req, pathname, 'GET');
    sendJson(res, 200, { name: 'inception-net', version: VERSION, extensions: ['classification'] });
    return true;
  }
  if (pathname === '/v2/health/live') {
    requireMethod(req, pathname, 'GET');
    sendJson(res, 200, { live: true });
    return true;
  }
  if (pathname === '/v2/health/ready') {
    requireMethod(req, pathname, 'GET');
    sendJson(res, ctx.ready() ? 200 : 503, { ready: ctx.ready() });
    return true;
  }
  const m = MODEL_PATH.exec(pathname);
  if (!m) return false;
  const name = decodePathSegment(m[1]);
  if (name !== ctx.name)
    throw new HttpError(
      404,
      'unknown_model',
      `unknown model ${JSON.stringify(name)}: this server serves "${ctx.name}"`,
    );
  if (m[2] !== undefined && m[2] !== VERSION)
    throw new HttpError(
      404,
      'unknown_version',
      `model "${ctx.name}" has no version ${JSON.stringify(m[2])}, only "${VERSION}"`,
    );
  if (m[3] === 'infer') {
    requireMethod(req, pathname, 'POST');
    await infer(req, res, ctx);
  } else if (m[3] === 'ready') {
    requireMethod(req, pathname, 'GET');
    sendJson(res, ctx.ready() ? 200 : 503, { name: ctx.name, ready: ctx.ready() });
  } else {
    requireMethod(req, pathname, 'GET');
    sendJson(res, 200, modelMetadata(ctx));
  }
  return true;
}
