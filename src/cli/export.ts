import '../layers/lrn';
import { exportOnnx } from '../export/onnx';
import { exportTfjs } from '../export/tfjs';
import { UsageError } from './args';
import { defineCommand, parseCommandLine } from './flags';
import { loadModelFromFlags, MODEL_WEIGHTS_FLAGS } from './model_dir';

const FORMATS = ['onnx', 'tfjs'] as const;

export const command = defineCommand({
  name: 'export',
  usage: `--model-dir DIR | --model NAME [--weights NAME|FILE|DIR] --format ${FORMATS.join('|')} [--precision fp32|int8] [--float16] --out PATH`,
  flags: {
    ...MODEL_WEIGHTS_FLAGS,
    format: {
      type: 'choice',
      choices: FORMATS,
      required: true,
      group: 'output',
      help: 'onnx: one ONNX file (opset 13): input NHWC float32 named like the tfjs input, dynamic batch; labels and preprocessing in metadata_props. tfjs: a folder: model.json + group1-shard*.bin (plain @tensorflow/tfjs tf.loadLayersModel), labels.json, preprocessing.json, model-info.json; the folder is also a model folder for predict, evaluate and serve',
    },
    precision: {
      type: 'choice',
      choices: ['fp32', 'int8'],
      defaultText: 'int8 for a quantized model folder (inception quantize), else fp32',
      group: 'output',
      help: 'onnx: int8 writes the QDQ model onnxruntime runs with int8 kernels (QuantizeLinear/DequantizeLinear around every convolution, int8 per-channel weights, BatchNormalization folded; needs a quantized folder); fp32 the float graph',
    },
    float16: {
      type: 'boolean',
      group: 'output',
      help: 'tfjs: store the weights as float16 (half the size; tfjs dequantises on load)',
    },
    out: {
      type: 'string',
      metavar: 'PATH',
      required: true,
      group: 'output',
      help: 'the ONNX file or the tfjs folder',
    },
  },
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values } = cmd;
  if (values.float16 && values.format !== 'tfjs') throw new UsageError('--float16 applies to --format tfjs');
  if (values.precision !== undefined && values.format !== 'onnx') {
    throw new UsageError('--precision applies to --format onnx (the tfjs export keeps the float weights)');
  }
  const { model, info, source } = await loadModelFromFlags(values);
  if (values.format === 'onnx') {
    if (values.precision === 'int8' && !info.quantization) {
      model.dispose();
      throw new UsageError(
        `--precision int8 needs a quantized model folder and ${source} is not one (inception quantize makes one)`,
      );
    }
    // The export needs no int8 engine here: a quantized folder exports as QDQ unless fp32 is asked for.
    const int8Ranges = values.precision === 'fp32' ? undefined : info.quantization?.activations;
    await exportOnnx(model, info, values.out, { int8Ranges });
    console.log(
      `wrote ${values.out} (ONNX opset 13${int8Ranges ? ', int8 QDQ' : ''}, input NHWC [batch,${info.preprocessing.inputShape}])`,
    );
  } else {
    const files = await exportTfjs(model, info, values.out, { float16: values.float16 });
    console.log(`wrote ${values.out}/ (${files.join(', ')})`);
  }
  model.dispose();
  return 0;
}
