import '../layers/lrn';
import { DEFAULT_CALIBRATION_IMAGES } from '../quantize/calibrate';
import { quantizeModelFolder } from '../quantize/quantize_folder';
import { defineCommand, parseCommandLine } from './flags';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

export const command = defineCommand({
  name: 'quantize',
  usage: '--model-dir DIR | --model NAME --calibrate IMAGES --out DIR [--calibration-images N] [--json]',
  description:
    "Post-training static int8 quantization. Runs calibration images (decoded as the model's preprocessing.json says) through the float model, records the [min, max] of the input and of every layer's output, and writes a new model folder: the source's network files unchanged (float weights), model-info.json marked precision int8, and quantization.json with the ranges. Activations are quantized per tensor with zero point 0 (u8, scale max/255, after a ReLU; s8, scale max|x|/127, elsewhere); weights per output channel, s8, scale max|w|/127, after BatchNormalization is folded into the convolution. `export --format onnx` of the new folder writes the int8 QDQ model onnxruntime runs; see docs/quantization.md.",
  flags: {
    ...MODEL_DIR_FLAGS,
    calibrate: {
      type: 'string',
      metavar: 'IMAGES',
      required: true,
      group: 'calibration',
      help: 'a folder of JPEG/PNG images like the ones the model will see (searched recursively: an image folder with class sub-folders works); training images, never the ones you evaluate on',
    },
    'calibration-images': {
      type: 'int',
      metavar: 'N',
      default: DEFAULT_CALIBRATION_IMAGES,
      group: 'calibration',
      help: 'use at most N images (a seeded random choice when the folder holds more)',
    },
    out: {
      type: 'string',
      metavar: 'DIR',
      required: true,
      group: 'output',
      help: 'the quantized model folder: new, empty, or a model folder to replace (never the source)',
    },
    json: { type: 'boolean', help: 'print {"out", "images", "layers"} as one JSON document' },
  },
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values } = cmd;
  const source = modelDirFrom(values);
  const { quantization } = await quantizeModelFolder(source, values.calibrate, values.out, {
    calibrationImages: values['calibration-images'],
  });
  const layers = Object.keys(quantization.activations).length;
  const images = quantization.calibration.count;
  console.log(
    values.json
      ? JSON.stringify({ out: values.out, images, layers })
      : `wrote ${values.out}/ (int8: ranges of ${layers} tensors calibrated on ${images} images from ${values.calibrate})`,
  );
  return 0;
}
