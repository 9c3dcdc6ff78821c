import * as fs from 'node:fs';
import type * as tf from '@tensorflow/tfjs';
import { readModelInfo } from '../io/model_folder';
import type { GoogLeNetArgs } from '../models/googlenet';
import { PRETRAINED } from '../models/pretrained';
import { buildModel } from '../models/registry';
import { type LoadWeightsOptions, loadFolderModel, loadWeights, type WeightsMeta, weightsMeta } from './load';
import { findWeights, weightsFor } from './registry';

type BuilderArgs = GoogLeNetArgs & Record<string, unknown>;

/**
 * The builder arguments `weights` fit: a registry entry's or shipped model's, a model folder's class count,
 * input shape and width; a weights file fits the builder's first published entry.
 */
export function weightsBuilderArgs(builder: string, weights: string): BuilderArgs {
  const entry = findWeights(builder, weights);
  if (entry?.kind === 'published') return { ...entry.args };
  if (entry?.kind === 'shipped') return { ...PRETRAINED[entry.name].args };
  const meta = weightsMeta(builder, weights);
  if (meta === null) {
    const first = weightsFor(builder).find((w) => w.kind === 'published');
    return first?.kind === 'published' ? { ...first.args } : {};
  }
  return {
    numClasses: meta.numClasses,
    inputShape: [...meta.preprocessing.inputShape],
    widthMultiplier: readModelInfo(weights).widthMultiplier,
  };
}

function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** Builder arguments plus the weights to start from (any spec loadWeights takes). */
export type CreateModelArgs = GoogLeNetArgs & Record<string, unknown> & { weights?: string | null };

/**
 * Builds `name` and loads its weights: Keras's `InceptionV3(weights='imagenet')` for a world where
 * downloads are async. Without `weights` it is buildModel. With a registry name or shipped model, that
 * entry's arguments (class count, input shape, width...) are the defaults and the caller's override them;
 * a model with another class count or without the top takes the body and keeps its new head as
 * initialised. A model folder without other arguments is its own network, as saved. The synchronous builders keep `weights` for the shipped models only (no download there).
 */
export async function createModel(
  name: string,
  args: CreateModelArgs = {},
  options: LoadWeightsOptions = {},
): Promise<{ model: tf.LayersModel; meta: WeightsMeta | null }> {
  const { weights, ...builderArgs } = args;
  if (weights === undefined || weights === null) return { model: buildModel(name, builderArgs), meta: null };
  if (Object.keys(builderArgs).length === 0 && !findWeights(name, weights) && isDirectory(weights)) {
    // A model folder asked for as it is: its own network (model.json), which also holds the builder
    // arguments model-info.json does not record (googlenet-cifar's stemPool, batchNorm).
    return loadFolderModel(name, weights);
  }
  const defaults = weightsBuilderArgs(name, weights);
  const merged: BuilderArgs = { ...defaults, ...builderArgs };
  const model = buildModel(name, merged);
  // The source's classifier fits only a model with the top at the source's class count.
  const sameHead =
    merged.includeTop !== false &&
    (defaults.numClasses === undefined || merged.numClasses === defaults.numClasses);
  try {
    const meta = await loadWeights(model, name, weights, { strict: sameHead, ...options });
    return { model, meta };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
