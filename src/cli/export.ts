import '../layers/lrn';
import { exportOnnx } from '../export/onnx';
import { exportTfjs } from '../export/tfjs';
import { loadModelFolder } from '../io/model_folder';
import { parse, UsageError } from './args';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

const HELP = `usage: inception export --model-dir DIR | --model cifar10 --format onnx|tfjs [--float16] --out PATH

  --format onnx   writes one ONNX file (opset 13): input NHWC float32 named like the tfjs input, dynamic
                  batch; labels and preprocessing in metadata_props.
  --format tfjs   writes a folder: model.json + group1-shard*.bin (plain @tensorflow/tfjs
                  tf.loadLayersModel), labels.json, preprocessing.json, model-info.json; the folder is
                  also a model folder for predict, evaluate and serve.
  --float16       tfjs: store the weights as float16 (half the size; tfjs dequantises on load).`;

const FORMATS = ['onnx', 'tfjs'];

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    ...MODEL_DIR_FLAGS,
    format: { type: 'string' },
    float16: { type: 'boolean' },
    out: { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelDir = modelDirFrom(values);
  for (const flag of ['format', 'out']) {
    if (!values[flag]) throw new UsageError(`--${flag} is required`);
  }
  if (!FORMATS.includes(values.format)) {
    throw new UsageError(
      `--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(values.format)}`,
    );
  }
  if (values.float16 && values.format !== 'tfjs') throw new UsageError('--float16 applies to --format tfjs');
  const { model, info } = await loadModelFolder(modelDir);
  if (values.format === 'onnx') {
    await exportOnnx(model, info, values.out);
    console.log(`wrote ${values.out} (ONNX opset 13, input NHWC [batch,${info.preprocessing.inputShape}])`);
  } else {
    const files = await exportTfjs(model, info, values.out, { float16: Boolean(values.float16) });
    console.log(`wrote ${values.out}/ (${files.join(', ')})`);
  }
  model.dispose();
  return 0;
}
