import { PRETRAINED, pretrainedFolder } from '../models/pretrained';
import { UsageError } from './args';
import { defineFlags } from './flags';

const SHIPPED = Object.keys(PRETRAINED);

/** The flags of commands that use a trained model: a model folder, or the name of a shipped model. */
export const MODEL_DIR_FLAGS = defineFlags({
  'model-dir': {
    type: 'string',
    metavar: 'DIR',
    group: 'model',
    help: 'a model folder (from train, or export --format tfjs)',
  },
  model: {
    type: 'string',
    metavar: 'NAME',
    group: 'model',
    help: `a model shipped with the package instead: ${SHIPPED.join(', ')}`,
  },
});

/** The model folder named by --model-dir, or the shipped folder named by --model. */
export function modelDirFrom(values: { 'model-dir'?: string; model?: string }): string {
  const dir = values['model-dir'];
  const name = values.model;
  if (dir !== undefined && name !== undefined) {
    throw new UsageError('give --model-dir DIR or --model NAME (a shipped model), not both');
  }
  if (name !== undefined) {
    if (!Object.hasOwn(PRETRAINED, name)) {
      throw new UsageError(
        `--model ${JSON.stringify(name)} is not a shipped model (shipped: ${SHIPPED.join(', ')}); a model folder goes in --model-dir`,
      );
    }
    return pretrainedFolder(name);
  }
  if (!dir)
    throw new UsageError(`--model-dir DIR is required (or --model ${SHIPPED[0]} for the shipped model)`);
  return dir;
}
