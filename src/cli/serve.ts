import '../layers/lrn';
import { createInferenceServer, SERVE_DEFAULTS } from '../serve/server';
import { defineCommand, parseCommandLine } from './flags';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

const MIB = 1024 * 1024;

export const command = defineCommand({
  name: 'serve',
  usage: '--model-dir DIR | --model NAME [--port N] [--host ADDRESS] [--max-batch N] [--max-body-mb N]',
  description: `  POST /v1/predict[?top=K]  body image/jpeg or image/png, or multipart/form-data with one or more files
  GET  /v1/model            name, labels, input shape, parameter count
  GET  /healthz             liveness and queue depth
  GET  /                    the browser page (tfjs in the browser next to the server's answer)
  GET  /model/model.json    the model as a tfjs web export;  GET /report  the training report`,
  flags: {
    ...MODEL_DIR_FLAGS,
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
      help: 'address to bind (0.0.0.0: every interface)',
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
      group: 'server',
      help: 'largest request body in MiB',
    },
  },
  epilog: 'SIGTERM/SIGINT finish the requests in flight, then exit 0.',
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values } = cmd;
  const modelDir = modelDirFrom(values);
  const service = await createInferenceServer({
    modelDir,
    port: values.port,
    host: values.host,
    maxBatch: values['max-batch'],
    maxBodyBytes: values['max-body-mb'] * MIB,
  });
  const url = await service.listen();
  console.log(`inception serve: listening on ${url} (model ${modelDir})`);
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
