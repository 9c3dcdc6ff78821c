import { PRETRAINED, pretrainedFolder } from '../models/pretrained';
import { type Options, UsageError } from './args';

/** The flags of commands that use a trained model: a model folder, or the name of a shipped model. */
export const MODEL_DIR_FLAGS: Options = {
  'model-dir': { type: 'string' },
  model: { type: 'string' },
};

export const MODEL_DIR_HELP = `  --model-dir DIR       a model folder (from train, or export --format tfjs)
  --model NAME          a model shipped with the package instead: ${Object.keys(PRETRAINED).join(', ')}`;

/** The model folder named by --model-dir, or the shipped folder named by --model. */
export function modelDirFrom(values: Record<string, unknown>): string {
  const dir = values['model-dir'] as string | undefined;
  const name = values.model as string | undefined;
  if (dir !== undefined && name !== undefined) {
    throw new UsageError('give --model-dir DIR or --model NAME (a shipped model), not both');
  }
  if (name !== undefined) {
    if (!Object.hasOwn(PRETRAINED, name)) {
      throw new UsageError(
        `--model ${JSON.stringify(name)} is not a shipped model (shipped: ${Object.keys(PRETRAINED).join(', ')}); a model folder goes in --model-dir`,
      );
    }
    return pretrainedFolder(name);
  }
  if (!dir) {
    throw new UsageError(
      `--model-dir DIR is required (or --model ${Object.keys(PRETRAINED)[0]} for the shipped model)`,
    );
  }
  return dir;
}
