import '../layers/lrn';
import { exportOnnx } from '../export/onnx';
import { exportTfjs } from '../export/tfjs';
import { loadModelFolder } from '../io/model_folder';
import { parse, UsageError } from './args';

export const summary = 'export a model folder to ONNX or to a tfjs web model';

const HELP = `usage: inception export --model-dir DIR --format onnx|tfjs --out PATH

  --format onnx   writes one ONNX file (opset 13): input NHWC float32 named like the tfjs input, dynamic
                  batch; labels and preprocessing in metadata_props.
  --format tfjs   writes a folder: model.json + group1-shard*.bin (plain @tensorflow/tfjs
                  tf.loadLayersModel), labels.json, preprocessing.json, model-info.json.`;

const FORMATS = ['onnx', 'tfjs'];

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    'model-dir': { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  for (const flag of ['model-dir', 'format', 'out']) {
    if (!values[flag]) throw new UsageError(`--${flag} is required`);
  }
  if (!FORMATS.includes(values.format)) {
    throw new UsageError(
      `--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(values.format)}`,
    );
  }
  const { model, info } = await loadModelFolder(values['model-dir']);
  if (values.format === 'onnx') {
    await exportOnnx(model, info, values.out);
    console.log(`wrote ${values.out} (ONNX opset 13, input NHWC [batch,${info.preprocessing.inputShape}])`);
  } else {
    const files = await exportTfjs(model, info, values.out);
    console.log(`wrote ${values.out}/ (${files.join(', ')})`);
  }
  model.dispose();
  return 0;
}
