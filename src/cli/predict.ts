import { DEFAULT_TOP_K } from '../models/top_k';
import { folderPrecision } from '../quantize/precision';
import { type ImagePrediction, predictImages } from '../training/predict';
import { defineCommand, parseCommandLine } from './flags';
import { loadModelFromFlags, MODEL_WEIGHTS_FLAGS } from './model_dir';
import { PRECISION_FLAGS } from './model_flags';

export const command = defineCommand({
  name: 'predict',
  usage:
    '--model-dir DIR | --model NAME [--weights NAME|FILE|DIR] [--top K] [--precision fp32|bf16|int8] [--json] IMAGE...',
  description:
    "Classifies each JPEG or PNG image (any size; resized, cropped and normalised as the model folder's preprocessing.json, or the weights' meta, says) and prints its K most probable labels with probabilities. `--model googlenet-torchvision --weights imagenet photo.jpg` prints ImageNet labels.",
  flags: {
    ...MODEL_WEIGHTS_FLAGS,
    ...PRECISION_FLAGS,
    top: { type: 'int', metavar: 'K', default: DEFAULT_TOP_K, help: 'labels per image' },
    json: { type: 'boolean', help: 'print {"modelDir", "predictions"} as one JSON document' },
  },
  positionals: { metavar: 'IMAGE', help: 'JPEG or PNG files', min: 1 },
});

/** Predictions as lines for people. */
export function formatPredictions(results: ImagePrediction[]): string {
  const width = Math.max(...results.flatMap((r) => r.top.map((t) => t.label.length)));
  return results
    .map((r) =>
      [r.file, ...r.top.map((t) => `  ${t.label.padEnd(width)}  ${t.probability.toFixed(4)}`)].join('\n'),
    )
    .join('\n');
}

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values, positionals } = cmd;
  const { model, info, source: modelDir } = await loadModelFromFlags(values);
  try {
    const results = await predictImages(model, info, positionals, values.top, {
      ...folderPrecision(info, cmd.given.has('precision') ? values.precision : undefined),
    });
    console.log(
      values.json ? JSON.stringify({ modelDir, predictions: results }) : formatPredictions(results),
    );
  } finally {
    model.dispose();
  }
  return 0;
}
