import '../layers/lrn';
import { createInferenceServer } from '../serve/server';
import { intFlag, parse } from './args';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

const HELP = `usage: inception serve --model-dir DIR | --model cifar10 [--port 8080] [--host 127.0.0.1] [--max-batch 8] [--max-body-mb 10]

  POST /v1/predict[?top=K]  body image/jpeg or image/png, or multipart/form-data with one or more files
  GET  /v1/model            name, labels, input shape, parameter count
  GET  /healthz             liveness and queue depth
  GET  /                    the browser page (tfjs in the browser next to the server's answer)
  GET  /model/model.json    the model as a tfjs web export;  GET /report  the training report

Binds 127.0.0.1 unless --host says otherwise. SIGTERM/SIGINT finish the requests in flight, then exit 0.`;

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    ...MODEL_DIR_FLAGS,
    port: { type: 'string' },
    host: { type: 'string' },
    'max-batch': { type: 'string' },
    'max-body-mb': { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelDir = modelDirFrom(values);
  const service = await createInferenceServer({
    modelDir,
    port: intFlag('port', values.port, 8080, 0),
    host: values.host ?? '127.0.0.1',
    maxBatch: intFlag('max-batch', values['max-batch'], 8),
    maxBodyBytes: intFlag('max-body-mb', values['max-body-mb'], 10) * 1024 * 1024,
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
