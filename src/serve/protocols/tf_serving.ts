// TensorFlow Serving's REST predict API: POST /v1/models/{name}[/versions/{v}]:predict with the row
// ("instances") or columnar ("inputs") JSON forms, and the model status GET. Errors are `{ "error": "..." }`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServeContext } from '../context';
import { decodePathSegment, HttpError, requireMethod, sendJson } from '../http_error';
import { readJsonBody } from '../request_images';
import { base64Image, flattenFloats } from './tensors';

const VERSION = '1';
const MODEL_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+))?(:predict|\/metadata)?$/;

const bad = (message: string) => new HttpError(400, 'bad_request', message);

export function tfServingRouteLabel(pathname: string): string | undefined {
  const m = MODEL_PATH.exec(pathname);
  if (!m) return undefined;
  return `/v1/models/{name}${m[2] ? '/versions/{version}' : ''}${m[3] ?? ''}`;
}

const isB64 = (x: unknown) =>
  !!x && typeof x === 'object' && !Array.isArray(x) && typeof (x as { b64?: unknown }).b64 === 'string';

/**
 * One instance's value: `{"b64": ...}` image bytes, a nested [H][W][C] array of preprocessed numbers, or
 * either of those under the model's single named input (`{"image": {"b64": ...}}`).
 */
function unwrapNamed(instance: unknown, where: string): unknown {
  if (instance && typeof instance === 'object' && !Array.isArray(instance) && !isB64(instance)) {
    const values = Object.values(instance);
    if (values.length !== 1) throw bad(`${where}: the model has one input; give one named value`);
    return values[0];
  }
  return instance;
}

/** The instances of a predict request, row form or columnar form alike. */
function instancesOf(body: Record<string, unknown>): unknown[] {
  if (body.instances !== undefined) {
    if (!Array.isArray(body.instances) || body.instances.length === 0)
      throw bad('"instances" must be a non-empty list');
    return body.instances;
  }
  if (body.inputs !== undefined) {
    const inputs = unwrapNamed(body.inputs, '"inputs"');
    if (!Array.isArray(inputs) || inputs.length === 0) throw bad('"inputs" must hold a non-empty batch');
    return inputs;
  }
  throw bad('the body needs "instances" (or "inputs")');
}

async function predict(req: IncomingMessage, res: ServerResponse, ctx: ServeContext): Promise<void> {
  ctx.admit(1);
  const body = await readJsonBody(req, ctx.maxBodyBytes);
  const values = instancesOf(body).map((x, i) => unwrapNamed(x, `instance ${i}`));
  ctx.decoder.checkCount(values.length);
  ctx.admit(values.length);
  const [h, w, c] = ctx.info.preprocessing.inputShape;
  let inputs: Float32Array[];
  if (values.every(isB64)) {
    inputs = await ctx.decoder.decode(values.map((v, i) => base64Image(v, `instance ${i}`)));
  } else if (values.every(Array.isArray)) {
    inputs = values.map((v, i) => flattenFloats(v, h * w * c, `instance ${i} ([${h}, ${w}, ${c}] numbers)`));
  } else {
    throw bad(`every instance must be {"b64": "<JPEG/PNG>"} or a [${h}, ${w}, ${c}] array of numbers`);
  }
  const probs = await ctx.classify(inputs);
  sendJson(res, 200, { predictions: probs.map((p) => Array.from(p)) });
}

/** Answers a TF Serving request; returns false when the path is not one. */
export async function handleTfServing(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  ctx: ServeContext,
): Promise<boolean> {
  const m = MODEL_PATH.exec(pathname);
  if (!m) return false;
  const name = decodePathSegment(m[1]);
  if (name !== ctx.name)
    throw new HttpError(404, 'unknown_model', `Servable not found for request: Latest(${name})`);
  if (m[2] !== undefined && m[2] !== VERSION)
    throw new HttpError(404, 'unknown_version', `Servable not found for request: Specific(${name}, ${m[2]})`);
  if (m[3] === ':predict') {
    requireMethod(req, pathname, 'POST');
    await predict(req, res, ctx);
    return true;
  }
  requireMethod(req, pathname, 'GET');
  if (m[3] === '/metadata') {
    const [h, w, c] = ctx.info.preprocessing.inputShape;
    sendJson(res, 200, {
      model_spec: { name: ctx.name, version: VERSION },
      metadata: {
        inputs: { input: { dtype: 'DT_FLOAT', shape: [-1, h, w, c] }, b64: 'JPEG/PNG bytes' },
        outputs: { probabilities: { dtype: 'DT_FLOAT', shape: [-1, ctx.info.labels.length] } },
        labels: ctx.info.labels,
      },
    });
    return true;
  }
  sendJson(res, 200, {
    model_version_status: [
      {
        version: VERSION,
        state: ctx.ready() ? 'AVAILABLE' : 'UNLOADING',
        status: { error_code: 'OK', error_message: '' },
      },
    ],
  });
  return true;
}
