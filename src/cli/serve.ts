import '../layers/lrn';
import sharp from 'sharp';
import { isLoopback } from '../serve/access';
import { LIMIT_DEFAULTS } from '../serve/limits';
import { createInferenceServer, SERVE_DEFAULTS } from '../serve/server';
import { defineCommand, parseCommandLine } from './flags';
import { loadModelFromFlags, MODEL_WEIGHTS_FLAGS, modelDirFrom } from './model_dir';
import { PRECISION_FLAGS } from './model_flags';

const MIB = 1024 * 1024;
const seconds = (ms: number) => ms / 1000;

export const command = defineCommand({
  name: 'serve',
  usage:
    '--model-dir DIR | --model NAME [--weights NAME|FILE|DIR] [--port N] [--host ADDRESS] [--name NAME] [--api-key KEY] [--cors ORIGIN] [--precision fp32|bf16|int8] [limits]',
  description: `  POST /v1/predict[?top=K]  body image/jpeg or image/png, or multipart/form-data with one or more files
  GET  /v1/model            name, labels, input shape, parameter count
  GET  /healthz             liveness and queue depth
  Open Inference Protocol (KServe v2 / Triton): GET /v2, /v2/health/live, /v2/health/ready,
       /v2/models/NAME, /v2/models/NAME/ready;  POST /v2/models/NAME/infer (FP32 tensor or BYTES images)
  TF Serving: POST /v1/models/NAME:predict {"instances": [{"b64": ...}]};  GET /v1/models/NAME
  GET  /metrics             Prometheus metrics
  GET  /                    the browser page (tfjs in the browser next to the server's answer)
  GET  /model/model.json    the model as a tfjs web export;  GET /report  the training report`,
  flags: {
    ...MODEL_WEIGHTS_FLAGS,
    ...PRECISION_FLAGS,
    port: {
      type: 'int',
      min: 0,
      max: 65535,
      default: SERVE_DEFAULTS.port,
      group: 'server',
      help: 'TCP port (0: any free port)',
    },
    host: {
      type: 'string',
      metavar: 'ADDRESS',
      default: SERVE_DEFAULTS.host,
      group: 'server',
      help: 'address to bind (0.0.0.0: every interface; warns without --api-key)',
    },
    name: {
      type: 'string',
      metavar: 'NAME',
      group: 'server',
      defaultText: "the model folder's name",
      help: 'the model name in /v2/models/NAME and /v1/models/NAME',
    },
    'max-batch': {
      type: 'int',
      default: SERVE_DEFAULTS.maxBatch,
      group: 'server',
      help: 'most images per inference batch',
    },
    'max-body-mb': {
      type: 'int',
      default: SERVE_DEFAULTS.maxBodyBytes / MIB,
      group: 'limits',
      help: 'largest request body in MiB',
    },
    'max-images': {
      type: 'int',
      default: LIMIT_DEFAULTS.maxImages,
      group: 'limits',
      help: 'most images per request',
    },
    'max-megapixels': {
      type: 'positive',
      metavar: 'X',
      group: 'limits',
      defaultText: 'max(16, max-images x 64 x the input pixels / 1e6)',
      help: "most pixels per request, summed over its images' headers before decoding",
    },
    'decode-threads': {
      type: 'int',
      group: 'limits',
      defaultText: 'min(2, cores)',
      help: 'images decoded at once in each lane (small images, large images) over all requests',
    },
    'max-queue': {
      type: 'int',
      default: LIMIT_DEFAULTS.maxQueue,
      group: 'limits',
      help: 'images waiting for decode or inference before 503 + Retry-After',
    },
    'max-connections': {
      type: 'int',
      default: LIMIT_DEFAULTS.maxConnections,
      group: 'limits',
      help: 'open connections; more are closed at once',
    },
    'request-timeout-s': {
      type: 'positive',
      metavar: 'X',
      default: seconds(LIMIT_DEFAULTS.requestTimeoutMs),
      group: 'limits',
      help: 'time to receive a whole request',
    },
    'headers-timeout-s': {
      type: 'positive',
      metavar: 'X',
      default: seconds(LIMIT_DEFAULTS.headersTimeoutMs),
      group: 'limits',
      help: "time to receive a request's headers",
    },
    'keep-alive-timeout-s': {
      type: 'positive',
      metavar: 'X',
      default: seconds(LIMIT_DEFAULTS.keepAliveTimeoutMs),
      group: 'limits',
      help: 'idle keep-alive connections close after this',
    },
    'api-key': {
      type: 'string',
      metavar: 'KEY',
      group: 'access',
      defaultText: 'INCEPTION_API_KEY, else none',
      help: 'require Authorization: Bearer KEY (health routes and /metrics stay open)',
    },
    cors: {
      type: 'string',
      metavar: 'ORIGIN',
      group: 'access',
      defaultText: 'off',
      help: 'let browser pages from ORIGIN (or *) call the API',
    },
  },
  epilog:
    'SIGTERM/SIGINT finish the requests in flight, then exit 0. docs/serving.md: curl examples, limits, metrics, scaling out.',
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values } = cmd;
  // A folder is served as a folder (its report and history too); --weights builds the model here.
  const loaded = values.weights === undefined ? null : await loadModelFromFlags(values);
  const modelDir = loaded ? loaded.source : modelDirFrom(values);
  const ms = (s: number | undefined) => (s === undefined ? undefined : Math.max(1, Math.round(s * 1000)));
  const megapixels = values['max-megapixels'];
  const apiKey = values['api-key'] ?? (process.env.INCEPTION_API_KEY || undefined);
  // serve decodes several images at once through its decode pools: libvips threads within one decode would
  // only contend with those and with inference (one thread saves ~0.5 ms on a 224x224 JPEG on 2 cores).
  sharp.concurrency(1);
  const service = await createInferenceServer({
    ...(loaded ? { model: loaded.model, info: loaded.info } : { modelDir }),
    name: values.name ?? (loaded ? loaded.info.model : undefined),
    port: values.port,
    host: values.host,
    maxBatch: values['max-batch'],
    maxBodyBytes: values['max-body-mb'] * MIB,
    limits: {
      maxImages: values['max-images'],
      maxPixels: megapixels === undefined ? undefined : Math.max(1, Math.round(megapixels * 1e6)),
      decodeConcurrency: values['decode-threads'],
      maxQueue: values['max-queue'],
      maxConnections: values['max-connections'],
      requestTimeoutMs: ms(values['request-timeout-s']),
      headersTimeoutMs: ms(values['headers-timeout-s']),
      keepAliveTimeoutMs: ms(values['keep-alive-timeout-s']),
    },
    apiKey,
    corsOrigin: values.cors,
    precision: cmd.given.has('precision') ? values.precision : undefined,
  });
  if (!apiKey && !isLoopback(values.host))
    console.error(
      `inception serve: warning: listening on ${values.host} without --api-key: anyone who can reach it can use the model`,
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
