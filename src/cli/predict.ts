import { loadModelFolder } from '../io/model_folder';
import { type ImagePrediction, predictImages } from '../training/predict';
import { intFlag, parse, UsageError } from './args';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

const HELP = `usage: inception predict --model-dir DIR | --model cifar10 [--top K] [--json] IMAGE...

Classifies each JPEG or PNG image (any size; resized and normalised as the model folder's
preprocessing.json says) and prints its K most probable labels (default 5) with probabilities.`;

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
  const { values, positionals } = parse(
    argv,
    { ...MODEL_DIR_FLAGS, top: { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelDir = modelDirFrom(values);
  if (positionals.length === 0) throw new UsageError('give at least one IMAGE');
  const k = intFlag('top', values.top, 5);
  const { model, info } = await loadModelFolder(modelDir);
  try {
    const results = await predictImages(model, info, positionals, k);
    console.log(
      values.json ? JSON.stringify({ modelDir, predictions: results }) : formatPredictions(results),
    );
  } finally {
    model.dispose();
  }
  return 0;
}
