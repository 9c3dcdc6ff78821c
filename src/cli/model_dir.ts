import type * as tf from '@tensorflow/tfjs';
import { checkModelMatchesInfo, loadModelFolder, type ModelInfo } from '../io/model_folder';
import { PRETRAINED, pretrainedFolder } from '../models/pretrained';
import { MODEL_BUILDERS } from '../models/registry';
import { createModel, weightsBuilderArgs } from '../weights/create_model';
import { weightsMeta } from '../weights/load';
import { BUILDER_FILE_FORMATS, weightsFor } from '../weights/registry';
import { UsageError } from './args';
import { defineFlags } from './flags';

const SHIPPED = Object.keys(PRETRAINED);
const BUILDERS = Object.keys(MODEL_BUILDERS);

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

const namedWeights = Object.keys(BUILDER_FILE_FORMATS)
  .map(
    (b) =>
      `${b}: ${weightsFor(b)
        .map((w) => w.name)
        .join(', ')}, .${BUILDER_FILE_FORMATS[b]}`,
  )
  .join('; ');

/** MODEL_DIR_FLAGS plus `--model BUILDER --weights SPEC`: a network built and loaded instead of a folder. */
export const MODEL_WEIGHTS_FLAGS = defineFlags({
  ...MODEL_DIR_FLAGS,
  model: {
    type: 'string',
    metavar: 'NAME',
    group: 'model',
    help: `a model shipped with the package (${SHIPPED.join(', ')}); with --weights, the builder to load them into (${BUILDERS.join(', ')})`,
  },
  weights: {
    type: 'string',
    metavar: 'NAME|FILE|DIR',
    group: 'model',
    help: `with --model BUILDER: named weights (downloaded into INCEPTION_HOME's cache on first use, hash verified; ${namedWeights}), a shipped model, a weights file the builder reads, or a model folder`,
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
        `--model ${JSON.stringify(name)} is not a shipped model (shipped: ${SHIPPED.join(', ')}); a model folder goes in --model-dir, a builder with --weights`,
      );
    }
    return pretrainedFolder(name);
  }
  if (!dir)
    throw new UsageError(`--model-dir DIR is required (or --model ${SHIPPED[0]} for the shipped model)`);
  return dir;
}

/** A model and its description, from a folder (--model-dir, --model SHIPPED) or --model BUILDER --weights. */
export interface LoadedModel {
  model: tf.LayersModel;
  info: ModelInfo;
  /** What to call it in output: the folder, or `BUILDER + WEIGHTS`. */
  source: string;
}

/**
 * Builds `builder` and loads `weights` into it (createModel). A weights file carries no labels: the
 * builder's first named weights lend theirs (the file is then taken to be of the same classes).
 */
export async function modelFromWeights(
  builder: string,
  weights: string,
  print: (line: string) => void,
): Promise<LoadedModel> {
  if (!Object.hasOwn(MODEL_BUILDERS, builder)) {
    throw new UsageError(
      `--model ${JSON.stringify(builder)} is not a builder (builders: ${BUILDERS.join(', ')}); --weights loads into a builder's network`,
    );
  }
  const { model, meta } = await createModel(builder, { weights }, { print });
  try {
    const fallback = weightsFor(builder)[0];
    const described = meta ?? (fallback ? weightsMeta(builder, fallback.name) : null);
    const units = (model.outputs[0].shape as number[])[1];
    if (!described || described.numClasses !== units) {
      throw new Error(
        `${weights}: carries no labels for the model's ${units} outputs; save it as a model folder first`,
      );
    }
    if (!meta) print(`${weights}: labels and preprocessing from ${builder}'s ${fallback.name} weights`);
    const info: ModelInfo = {
      model: builder,
      widthMultiplier: (weightsBuilderArgs(builder, weights).widthMultiplier as number | undefined) ?? 1,
      labels: described.categories,
      preprocessing: described.preprocessing,
    };
    checkModelMatchesInfo(model, info, { preprocessing: weights, labels: weights });
    return { model, info, source: `${builder} + ${weights}` };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The model the flags name: --model-dir DIR, --model SHIPPED, or --model BUILDER --weights SPEC. */
export async function loadModelFromFlags(
  values: { 'model-dir'?: string; model?: string; weights?: string },
  print: (line: string) => void = (line) => console.error(line),
): Promise<LoadedModel> {
  if (values.weights === undefined) {
    const dir = modelDirFrom(values);
    return { ...(await loadModelFolder(dir)), source: dir };
  }
  if (values['model-dir'] !== undefined) {
    throw new UsageError(
      '--weights goes with --model BUILDER, not --model-dir (a model folder holds its weights)',
    );
  }
  if (values.model === undefined)
    throw new UsageError(`--weights needs --model BUILDER (${BUILDERS.join(', ')})`);
  return modelFromWeights(values.model, values.weights, print);
}
