import '../layers/lrn';
import { isLoopback } from '../serve/access';
import { createInferenceServer } from '../serve/server';
import { intFlag, numberFlag, parse } from './args';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

export const summary = 'serve a model folder over HTTP (predict API, Open Inference Protocol, metrics, page)';

const HELP = `usage: inception serve --model-dir DIR | --model cifar10 [--port 8080] [--host 127.0.0.1] [options]

  POST /v1/predict[?top=K]        body image/jpeg or image/png, or multipart/form-data with one or more files
  GET  /v1/model                  name, labels, input shape, parameter count
  GET  /healthz                   liveness and queue depth
  Open Inference Protocol (KServe v2 / Triton): GET /v2, /v2/health/live, /v2/health/ready,
       /v2/models/NAME, /v2/models/NAME/ready;  POST /v2/models/NAME/infer (FP32 tensor or BYTES images)
  TF Serving: POST /v1/models/NAME:predict {"instances": [{"b64": ...}]};  GET /v1/models/NAME
  GET  /metrics                   Prometheus metrics
  GET  /                          the browser page;  GET /model/model.json the tfjs export;  GET /report

  --name NAME              the model's name in /v2/models/NAME and /v1/models/NAME (default: the folder's name)
  --max-batch N            most images per inference batch (8)
  --max-body-mb N          largest request body, MiB (10)
  --max-images N           most images per request (32)
  --max-megapixels X       most pixels per request, summed over its images' headers (default from the input size)
  --decode-threads N       images decoded at once over all requests per lane, small and large images (min(2, cores))
  --max-queue N            images waiting for decode or inference before 503 + Retry-After (256)
  --max-connections N      open connections (256)
  --request-timeout-s X    time to receive a whole request (30);  --headers-timeout-s X  its headers (10)
  --keep-alive-timeout-s X idle keep-alive connections close after this (5)
  --api-key KEY            require Authorization: Bearer KEY (also INCEPTION_API_KEY); health and /metrics stay open
  --cors ORIGIN            let browser pages from ORIGIN (or *) call the API; off by default

Binds 127.0.0.1 unless --host says otherwise. SIGTERM/SIGINT finish the requests in flight, then exit 0.
See docs/serving.md for curl examples, limits and scaling out.`;

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    ...MODEL_DIR_FLAGS,
    port: { type: 'string' },
    host: { type: 'string' },
    'max-batch': { type: 'string' },
    'max-body-mb': { type: 'string' },
    // Service protocol, limits and access flags (issue 13).
    name: { type: 'string' },
    'max-images': { type: 'string' },
    'max-megapixels': { type: 'string' },
    'decode-threads': { type: 'string' },
    'max-queue': { type: 'string' },
    'max-connections': { type: 'string' },
    'request-timeout-s': { type: 'string' },
    'headers-timeout-s': { type: 'string' },
    'keep-alive-timeout-s': { type: 'string' },
    'api-key': { type: 'string' },
    cors: { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelDir = modelDirFrom(values);
  const ms = (flag: string) =>
    values[flag] === undefined ? undefined : Math.round(numberFlag(flag, values[flag], 0) * 1000);
  const optionalInt = (flag: string) =>
    values[flag] === undefined ? undefined : intFlag(flag, values[flag], 0);
  const megapixels = values['max-megapixels'];
  const host = values.host ?? '127.0.0.1';
  const apiKey = values['api-key'] ?? (process.env.INCEPTION_API_KEY || undefined);
  const service = await createInferenceServer({
    modelDir,
    name: values.name,
    port: intFlag('port', values.port, 8080, 0),
    host,
    maxBatch: intFlag('max-batch', values['max-batch'], 8),
    maxBodyBytes: intFlag('max-body-mb', values['max-body-mb'], 10) * 1024 * 1024,
    limits: {
      maxImages: optionalInt('max-images'),
      maxPixels:
        megapixels === undefined
          ? undefined
          : Math.max(1, Math.round(numberFlag('max-megapixels', megapixels, 0) * 1e6)),
      decodeConcurrency: optionalInt('decode-threads'),
      maxQueue: optionalInt('max-queue'),
      maxConnections: optionalInt('max-connections'),
      requestTimeoutMs: ms('request-timeout-s'),
      headersTimeoutMs: ms('headers-timeout-s'),
      keepAliveTimeoutMs: ms('keep-alive-timeout-s'),
    },
    apiKey,
    corsOrigin: values.cors,
  });
  if (!apiKey && !isLoopback(host))
    console.error(
      `inception serve: warning: listening on ${host} without --api-key: anyone who can reach it can use the model`,
    );
  const url = await service.listen();
  console.log(`inception serve: listening on ${url} (model ${modelDir}, served as "${service.name}")`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`inception serve: ${signal}: finishing ${service.inFlight} request(s) in flight`);
      service.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  console.log('inception serve: stopped');
  return 0;
}
