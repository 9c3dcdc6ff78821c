import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { defaultAugmentation } from '../data/augment';
import { ImageFolderDataset } from '../data/image_folder';
import { channelStats } from '../data/stats';
import type { Augmentation, BadFilePolicy } from '../data/types';
import { writeFileAtomic } from '../io/atomic';
import { folderLoader, type ModelInfo, type Preprocessing, saveModelFolder } from '../io/model_folder';
import type { GoogLeNetArgs } from '../models/googlenet';
import { defaultInputShape } from '../models/googlenet';
import { buildModel, DEFAULT_MODEL } from '../models/registry';
import type { Callback, Printer } from './callback';
import {
  disposeCheckpointState,
  type LoadedCheckpoint,
  loadCheckpoint,
  restoreOptimizer,
  saveCheckpoint,
} from './checkpoint';
import { cosineDecay } from './cosine_decay';
import { csvLogger, formatHistoryCsv, type HistoryRow } from './csv_logger';
import { earlyStopping } from './early_stopping';
import { type History, trainModel } from './fit';
import { imageFolderSource } from './image_source';
import { compileClassifier } from './metrics';
import { modelCheckpoint } from './model_checkpoint';
import { createOptimizer, type OptimizerName } from './optimizers';
import { reduceLROnPlateau } from './reduce_lr_on_plateau';
import { trainingCurvesSvg } from './training_curves';

/** Where things go inside a model folder. */
export const CHECKPOINTS_DIR = 'checkpoints';
export const LAST_CHECKPOINT = path.join(CHECKPOINTS_DIR, 'last');
export const BEST_CHECKPOINT = path.join(CHECKPOINTS_DIR, 'best');
export const HISTORY_CSV = 'history.csv';
export const HISTORY_JSON = 'history.json';
export const CURVES_SVG = 'training-curves.svg';

/** The learning-rate schedules trainImageClassifier offers. */
export const LR_SCHEDULES = ['constant', 'cosine'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/** What trainImageClassifier (and so `inception train`) uses for an option it is not given. */
export const TRAIN_DEFAULTS = {
  valSplit: 0.1,
  model: DEFAULT_MODEL,
  epochs: 10,
  batchSize: 32,
  optimizer: 'adam' as OptimizerName,
  learningRate: 1e-3,
  seed: 0,
  lrSchedule: 'constant' as LrSchedule,
  warmupEpochs: 1,
  keep: 'best' as 'best' | 'last',
};

/** Everything `inception train` can be told; saved in checkpoints so `--resume` needs only the folder. */
export interface TrainClassifierOptions {
  /** Image folder: one sub-folder per class. */
  data: string;
  /** Separate validation image folder (same class folders). */
  valData?: string;
  /** Fraction of `data` held out for validation when valData is absent; 0 disables validation. Default 0.1. */
  valSplit?: number;
  /** Builder name; default 'googlenet'. */
  model?: string;
  /** Builder arguments; numClasses comes from the data. Default input 224x224x3. */
  modelArgs?: Omit<GoogLeNetArgs, 'numClasses'>;
  epochs?: number;
  batchSize?: number;
  optimizer?: OptimizerName;
  learningRate?: number;
  /** Seeds the validation split, shuffling, augmentation and the normalisation sample. Default 0. */
  seed?: number;
  /** Training augmentation; false turns it off. Default: the data pipeline's defaultAugmentation (flip, pad 1/8 + crop). */
  augmentation?: Augmentation | false;
  /** Quantity the callbacks watch; default val_loss, or loss without validation. */
  monitor?: string;
  /** ReduceLROnPlateau on `monitor`; false disables. Keras defaults otherwise. */
  reduceLr?:
    | { factor?: number; patience?: number; minLr?: number; cooldown?: number; minDelta?: number }
    | false;
  /**
   * Learning-rate schedule: 'constant' (the default: `learningRate`, changed only by ReduceLROnPlateau) or
   * 'cosine' (per step: linear warm-up over `warmupEpochs` to `learningRate`, then cosine decay to 0 at the
   * last step; ReduceLROnPlateau must then be off).
   */
  lrSchedule?: LrSchedule;
  /** Warm-up epochs of the cosine schedule. Default 1. */
  warmupEpochs?: number;
  /** EarlyStopping on `monitor`; false (the default) disables. */
  earlyStopping?: { patience?: number; minDelta?: number; restoreBestWeights?: boolean } | false;
  /** The saved model is the best epoch's (checkpoints/best, by `monitor`) or the last one's. Default best. */
  keep?: 'best' | 'last';
  /** Corrupt images stop training ('error', the default) or are skipped with a warning. */
  onBadFile?: BadFilePolicy;
  /** The model folder. */
  out: string;
}

export interface TrainClassifierHooks {
  /** Callbacks run first in each hook (a progress bar, say). */
  callbacks?: Callback[];
  /** Abort: the current step finishes, checkpoints/last is written, the result says `interrupted`. */
  signal?: AbortSignal;
  /** Resume from `out/checkpoints/last`; options other than out and epochs come from the checkpoint. */
  resume?: boolean;
  /** Verbose messages of the callbacks and the pipeline; default silent. */
  print?: Printer;
}

export interface TrainClassifierResult {
  out: string;
  labels: string[];
  preprocessing: Preprocessing;
  history: History;
  rows: HistoryRow[];
  interrupted: boolean;
  stoppedEarly: boolean;
  /** Epoch (1-based) whose weights the saved model holds; null when interrupted. */
  savedEpoch: number | null;
  /** Where `--resume` picks up. */
  lastCheckpoint: string;
  trainImages: number;
  valImages: number;
  /** The resolved options, as saved with the checkpoints. */
  options: ResolvedTrainOptions;
}

type ResolvedTrainOptions = Required<Omit<TrainClassifierOptions, 'valData' | 'reduceLr' | 'earlyStopping'>> &
  Pick<TrainClassifierOptions, 'valData' | 'reduceLr' | 'earlyStopping'>;

/** What checkpoints/last keeps beside the training state: enough to rebuild the run. */
interface RunMeta {
  options: ResolvedTrainOptions;
  labels: string[];
  preprocessing: Preprocessing;
}

function resolveOptions(o: TrainClassifierOptions): ResolvedTrainOptions {
  const r: ResolvedTrainOptions = {
    data: o.data,
    valData: o.valData,
    valSplit: o.valData ? 0 : (o.valSplit ?? TRAIN_DEFAULTS.valSplit),
    model: o.model ?? TRAIN_DEFAULTS.model,
    modelArgs: o.modelArgs ?? {},
    epochs: o.epochs ?? TRAIN_DEFAULTS.epochs,
    batchSize: o.batchSize ?? TRAIN_DEFAULTS.batchSize,
    optimizer: o.optimizer ?? TRAIN_DEFAULTS.optimizer,
    learningRate: o.learningRate ?? TRAIN_DEFAULTS.learningRate,
    seed: o.seed ?? TRAIN_DEFAULTS.seed,
    augmentation: o.augmentation ?? defaultAugmentation(o.modelArgs?.inputShape ?? defaultInputShape()),
    monitor: o.monitor ?? (o.valData || (o.valSplit ?? TRAIN_DEFAULTS.valSplit) > 0 ? 'val_loss' : 'loss'),
    reduceLr: o.reduceLr ?? (o.lrSchedule === 'cosine' ? false : {}),
    lrSchedule: o.lrSchedule ?? TRAIN_DEFAULTS.lrSchedule,
    warmupEpochs: o.warmupEpochs ?? TRAIN_DEFAULTS.warmupEpochs,
    earlyStopping: o.earlyStopping ?? false,
    keep: o.keep ?? TRAIN_DEFAULTS.keep,
    onBadFile: o.onBadFile ?? 'error',
    out: o.out,
  };
  if (r.lrSchedule !== 'constant' && r.lrSchedule !== 'cosine') {
    throw new Error(`train: lrSchedule must be 'constant' or 'cosine', got ${JSON.stringify(r.lrSchedule)}`);
  }
  if (r.lrSchedule === 'cosine' && r.reduceLr) {
    throw new Error(
      'train: the cosine schedule sets the learning rate every step; turn ReduceLROnPlateau off',
    );
  }
  if (!(Number.isInteger(r.warmupEpochs) && r.warmupEpochs >= 0)) {
    throw new Error(`train: warmupEpochs must be an integer >= 0, got ${JSON.stringify(r.warmupEpochs)}`);
  }
  if (!r.data) throw new Error('train: the training image folder (data) is required');
  if (!r.out) throw new Error('train: the model folder (out) is required');
  if (!(r.valSplit >= 0 && r.valSplit < 1))
    throw new Error(`train: valSplit must be in [0, 1), got ${r.valSplit}`);
  if (!r.monitor.startsWith('val_') || r.valData || r.valSplit > 0) return r;
  throw new Error(`train: monitor ${r.monitor} needs validation data (valData or valSplit > 0)`);
}

async function openDatasets(o: ResolvedTrainOptions, labels?: string[]) {
  const all = await ImageFolderDataset.open(o.data, labels ? { classNames: labels } : {});
  if (o.valData)
    return { train: all, val: await ImageFolderDataset.open(o.valData, { classNames: all.classNames }) };
  if (o.valSplit > 0) {
    const [train, val] = all.split(o.valSplit, o.seed);
    return { train, val };
  }
  return { train: all, val: null };
}

/**
 * Trains an image classifier on an image folder into the model folder `out` (the library behind
 * `inception train`): normalisation measured on the training images, streaming augmented batches, the
 * notebook's callbacks, `checkpoints/last` after every epoch (resumable), `checkpoints/best`, and on success
 * the model folder itself: model.json + weights.bin, labels.json, preprocessing.json, model-info.json,
 * history.csv/json and training-curves.svg. A failed or interrupted run leaves an earlier model in `out` as it was.
 */
export async function trainImageClassifier(
  options: TrainClassifierOptions,
  hooks: TrainClassifierHooks = {},
): Promise<TrainClassifierResult> {
  const print = hooks.print ?? (() => {});
  const lastDir = path.join(options.out, LAST_CHECKPOINT);
  const bestDir = path.join(options.out, BEST_CHECKPOINT);
  let checkpoint: LoadedCheckpoint<RunMeta> | null = null;
  let o: ResolvedTrainOptions;
  if (hooks.resume) {
    checkpoint = await loadCheckpoint<RunMeta>(lastDir);
    o = {
      ...checkpoint.meta.options,
      out: options.out,
      epochs: options.epochs ?? checkpoint.meta.options.epochs,
    };
    print(
      `resuming from ${checkpoint.dir} at epoch ${checkpoint.snapshot.epoch + 1}, step ${checkpoint.snapshot.step}`,
    );
  } else {
    o = resolveOptions(options);
  }
  const { train, val } = await openDatasets(o, checkpoint?.meta.labels);
  const labels = train.classNames;
  const inputShape = o.modelArgs.inputShape ?? defaultInputShape();
  let preprocessing: Preprocessing;
  if (checkpoint) {
    preprocessing = checkpoint.meta.preprocessing;
  } else {
    const stats = await channelStats(
      train,
      { inputShape, resize: 'fill' },
      { seed: o.seed, onBadFile: o.onBadFile },
    );
    preprocessing = { inputShape, mean: stats.mean, std: stats.std, resize: 'fill' };
  }
  const info: ModelInfo = {
    model: o.model,
    widthMultiplier: o.modelArgs.widthMultiplier ?? 1,
    labels,
    preprocessing,
  };
  const model =
    checkpoint?.model ?? buildModel(o.model, { ...o.modelArgs, inputShape, numClasses: labels.length });
  const optimizer = createOptimizer(o.optimizer, o.learningRate);
  compileClassifier(model, optimizer);
  if (checkpoint) await restoreOptimizer(optimizer, checkpoint);

  const batchOptions = {
    batchSize: o.batchSize,
    preprocessing,
    seed: o.seed,
    onBadFile: o.onBadFile,
  };
  const trainSource = imageFolderSource(train, {
    ...batchOptions,
    shuffle: true,
    augmentation: o.augmentation,
  });
  const valSource = val
    ? imageFolderSource(val, { ...batchOptions, shuffle: false, augmentation: false })
    : undefined;

  const best = modelCheckpoint({
    filepath: bestDir,
    monitor: o.monitor,
    saveBestOnly: true,
    verbose: 1,
    print,
    save: (m, dir) => saveModelFolder(dir, m, info),
  });
  const callbacks: Callback[] = [...(hooks.callbacks ?? [])];
  if (o.lrSchedule === 'cosine') {
    const steps = trainSource.steps;
    const warmupSteps = Math.min(o.warmupEpochs * steps, o.epochs * steps - 1);
    callbacks.push(
      cosineDecay({ peak: o.learningRate, warmupSteps, decaySteps: o.epochs * steps - warmupSteps }),
    );
  }
  if (o.reduceLr) callbacks.push(reduceLROnPlateau({ ...o.reduceLr, monitor: o.monitor, verbose: 1, print }));
  if (o.earlyStopping)
    callbacks.push(earlyStopping({ ...o.earlyStopping, monitor: o.monitor, verbose: 1, print }));
  callbacks.push(best, csvLogger(path.join(o.out, CHECKPOINTS_DIR, HISTORY_CSV)));

  const meta: RunMeta = { options: o, labels, preprocessing };
  let result: Awaited<ReturnType<typeof trainModel>>;
  try {
    result = await trainModel(model, trainSource, {
      epochs: o.epochs,
      validationData: valSource,
      callbacks,
      signal: hooks.signal,
      resume: checkpoint?.snapshot,
      onSnapshot: (s) => saveCheckpoint(lastDir, model, s, meta),
    });
  } finally {
    if (checkpoint) disposeCheckpointState(checkpoint);
  }

  let savedEpoch: number | null = null;
  if (!result.interrupted) {
    if (o.keep === 'best' && best.lastSavedEpoch >= 0) {
      const bestModel = await tf.loadLayersModel(folderLoader(bestDir));
      model.setWeights(bestModel.getWeights());
      bestModel.dispose();
      savedEpoch = best.lastSavedEpoch + 1;
    } else {
      savedEpoch = result.rows.length ? result.rows[result.rows.length - 1].epoch + 1 : null;
    }
    await saveModelFolder(o.out, model, info);
    await writeFileAtomic(path.join(o.out, HISTORY_CSV), formatHistoryCsv(result.rows));
    await writeFileAtomic(path.join(o.out, HISTORY_JSON), `${JSON.stringify(result.history, null, 1)}\n`);
    await writeFileAtomic(
      path.join(o.out, CURVES_SVG),
      trainingCurvesSvg(result.rows, `${o.model} on ${o.data}`),
    );
  }
  model.optimizer.dispose();
  model.dispose();
  return {
    out: o.out,
    labels,
    preprocessing,
    history: result.history,
    rows: result.rows,
    interrupted: result.interrupted,
    stoppedEarly: result.stoppedEarly,
    savedEpoch,
    lastCheckpoint: lastDir,
    trainImages: train.size,
    valImages: val?.size ?? 0,
    options: o,
  };
}
