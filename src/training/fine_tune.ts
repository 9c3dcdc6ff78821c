/**
 * The Keras transfer-learning recipe on a LayersModel: freeze the pretrained body and train a new head, then
 * unfreeze the top blocks and continue at a low learning rate. Batch normalisation layers of the body run in
 * inference mode throughout (their moving statistics are the pretrained ones and stay so), unfrozen or not.
 */
import type * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../layers/batch_normalization';
import { isBodyLayer } from '../weights/body_layers';
import type { Callback, Printer, TrainingContext } from './callback';
import { compileClassifier } from './metrics';
import { createOptimizer } from './optimizers';

/** A bad fine-tuning option found once the model is built (an unknown layer...): a usage error for the CLI. */
export class FineTuneOptionError extends Error {}

/**
 * Where unfreezing starts when no layer is named: the first of these the model has. The top two inception
 * blocks' worth of layers, as the Keras guide's InceptionV3 example trains (the layers after mixed8):
 * inception_5a (this package's GoogLeNets: 5a and 5b), inception5a (torchvision's naming), after mixed8
 * (Keras's InceptionV3: mixed9 and mixed10).
 */
export const DEFAULT_UNFREEZE_FROM: readonly ({ layer: string } | { after: string })[] = [
  { layer: 'inception_5a' },
  { layer: 'inception5a' },
  { after: 'mixed8' },
];

/** The fine-tuning rate when none is given: the Keras guide's `Adam(1e-5)`. */
export const DEFAULT_FINE_TUNE_LR = 1e-5;

/** The layers holding weights outside the body: the classifier head the data's classes train. */
export function headLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => l.weights.length > 0 && !isBodyLayer(l));
}

/**
 * Freezes every layer but the head (Keras `base_model.trainable = False`): their weights stop training and
 * their batch normalisation runs in inference mode. Recompile afterwards. Throws on a model without a body
 * or without a head.
 */
export function freezeBase(model: tf.LayersModel): void {
  const head = new Set(headLayers(model));
  const body = model.layers.filter((l) => l.weights.length > 0 && !head.has(l));
  if (!body.length) throw new FineTuneOptionError(`freeze: model ${model.name} has no body to freeze`);
  if (!head.size)
    throw new FineTuneOptionError(`freeze: model ${model.name} has no classifier head to train`);
  for (const layer of model.layers) if (!head.has(layer)) layer.trainable = false;
}

/** Whether `name` is `prefix` or a layer inside the block `prefix` (`inception_5a_1x1`, `inception5a.b1`...). */
function inBlock(name: string, prefix: string): boolean {
  return name === prefix || (name.startsWith(prefix) && /^[_./]/.test(name.slice(prefix.length)));
}

/** Layer names that are not inside another layer's block (modules, stem convs): what a user would name. */
function blockNames(names: string[]): string[] {
  return names.filter((n) => !names.some((m) => m !== n && inBlock(n, m)));
}

/** Index in model.layers where unfreezing starts: the first layer of block `from`, or the default's. */
export function unfreezeStart(model: tf.LayersModel, from?: string): number {
  const names = model.layers.map((l) => l.name);
  if (from !== undefined) {
    const i = names.findIndex((n) => inBlock(n, from));
    if (i >= 0) return i;
    const shared = (n: string) => {
      let k = 0;
      while (k < n.length && n[k] === from[k]) k++;
      return k;
    };
    const near = blockNames(names)
      .map((n, order) => ({ n, order, k: shared(n) }))
      .sort((a, b) => b.k - a.k || a.order - b.order)
      .slice(0, 5)
      .map((c) => c.n);
    throw new FineTuneOptionError(
      `unfreeze-from: no layer ${JSON.stringify(from)} in ${model.name}; near names: ${near.join(', ')}`,
    );
  }
  for (const candidate of DEFAULT_UNFREEZE_FROM) {
    if ('layer' in candidate) {
      const i = names.findIndex((n) => inBlock(n, candidate.layer));
      if (i >= 0) return i;
    } else {
      const i = names.indexOf(candidate.after);
      if (i >= 0) return i + 1;
    }
  }
  throw new FineTuneOptionError(
    `unfreeze-from: ${model.name} has none of the default blocks (${DEFAULT_UNFREEZE_FROM.map((c) => ('layer' in c ? c.layer : `after ${c.after}`)).join(', ')}); name a layer`,
  );
}

/**
 * Makes the layers from `start` on trainable (Keras: `layer.trainable = True` for the top blocks), their
 * batch normalisation staying in inference mode. Recompile afterwards. Returns the first unfrozen layer.
 */
export function unfreezeFrom(model: tf.LayersModel, start: number): string {
  for (const layer of model.layers.slice(start)) {
    if (layer instanceof BatchNormalization) layer.inferenceMode = true;
    layer.trainable = true;
  }
  return model.layers[start].name;
}

/** Trainable parameters of a model as its layers now stand. */
export function trainableParams(model: tf.LayersModel): number {
  return model.layers
    .filter((l) => l.trainable)
    .flatMap((l) => l.trainableWeights)
    .reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

export interface UnfreezeScheduleArgs {
  /** 0-based epoch from which the top blocks train. */
  epoch: number;
  /** Index in model.layers of the first layer to unfreeze (unfreezeStart). */
  start: number;
  /** Optimizer name and rate for the unfrozen phase (a fresh optimizer, as Keras's recompile). */
  optimizer: string;
  learningRate: number;
  /** Already unfrozen (a run resumed after the unfreeze epoch). */
  unfrozen?: boolean;
  print?: Printer;
}

/**
 * At the start of epoch `epoch`: unfreezes the top blocks, and recompiles the model with a fresh optimizer at
 * the fine-tuning rate (Keras's recipe: changing `trainable` takes a recompile, and the new optimizer's state
 * starts empty). Later callbacks (ReduceLROnPlateau) then act on the new optimizer.
 */
export function unfreezeSchedule(args: UnfreezeScheduleArgs): Callback {
  let ctx: TrainingContext;
  let unfrozen = args.unfrozen ?? false;
  return {
    name: 'unfreeze',
    setContext(c) {
      ctx = c;
    },
    onEpochBegin(epoch) {
      if (unfrozen || epoch < args.epoch) return;
      unfrozen = true;
      const model = ctx.model;
      const first = unfreezeFrom(model, args.start);
      const old = model.optimizer;
      const optimizer = createOptimizer(args.optimizer, args.learningRate);
      compileClassifier(model, optimizer);
      old.dispose();
      ctx.optimizer = optimizer;
      args.print?.(
        `Epoch ${epoch + 1}: unfreezing from ${first} (${trainableParams(model).toLocaleString('en-US')} trainable parameters), learning rate ${args.learningRate}`,
      );
    },
  };
}
