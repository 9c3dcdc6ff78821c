import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type ComputePrecision, computePrecisionUnavailable } from '../backend/precision';
import { defaultAugmentation } from '../data/augment';
import { withoutUndecodable } from '../data/bad_file';
import { ImageFolderDataset } from '../data/image_folder';
import { channelStats } from '../data/stats';
import type { Augmentation, BadFilePolicy } from '../data/types';
import type { Collective } from '../distributed/collective';
import { linkTree, removeStaleTemps, writeFileAtomic } from '../io/atomic';
import {
  currentGeneration,
  generations,
  newGeneration,
  publishGeneration,
  removeGenerations,
  resolveModelFolder,
} from '../io/generations';
import { folderLoader, type ModelInfo, type Preprocessing, saveModelFolder } from '../io/model_folder';
import type { GoogLeNetArgs } from '../models/googlenet';
import { defaultInputShape } from '../models/googlenet';
import { buildModel, DEFAULT_MODEL } from '../models/registry';
import { loadWeights, weightsMeta } from '../weights/load';
import type { Callback, Printer } from './callback';
import {
  disposeCheckpointState,
  type LoadedCheckpoint,
  loadCheckpoint,
  restoreOptimizer,
  STATE_JSON,
  saveCheckpoint,
} from './checkpoint';
import { broadcastJson } from './collective_values';
import { cosineDecay } from './cosine_decay';
import { csvLogger, formatHistoryCsv, type HistoryRow } from './csv_logger';
import { earlyStopping } from './early_stopping';
import {
  DEFAULT_FINE_TUNE_LR,
  FineTuneOptionError,
  freezeBase,
  headLayers,
  unfreezeFrom,
  unfreezeSchedule,
  unfreezeStart,
} from './fine_tune';
import { type History, trainModel } from './fit';
import { imageFolderSource } from './image_source';
import { compileClassifier } from './metrics';
import { modelCheckpoint } from './model_checkpoint';
import { createOptimizer, type OptimizerName } from './optimizers';
import { reduceLROnPlateau } from './reduce_lr_on_plateau';
import { terminateOnNaN } from './terminate_on_nan';
import { trainingCurvesSvg } from './training_curves';
import { weightsArchitecture, weightsFixedArgs } from './weights_architecture';

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
  precision: 'fp32' as ComputePrecision,
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
  /**
   * Seeds everything random in a run: the validation split, the normalisation sample, shuffling,
   * augmentation, the initial weights (unless modelArgs.seed is given) and dropout. Default 0. With the same
   * seed and data, on one backend, machine and thread count, two runs write byte-identical weights and history.
   */
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
  /**
   * Stop with TrainingDivergedError on a non-finite loss, metric or weight (terminateOnNaN). Default true; off,
   * a diverged run still cannot save: the model writers refuse non-finite weights.
   */
  terminateOnNaN?: boolean;
  /**
   * Start from these weights instead of a random initialisation (`loadWeights`): a registry name
   * ('imagenet'), a shipped model ('cifar10'), a model folder or a weights file. They fix the builder, width
   * and input shape unless `model`/`modelArgs` say otherwise, and their normalisation is used (and saved)
   * instead of the training images' statistics. A head for another class count is initialised afresh.
   */
  weights?: string;
  /** 'base': train the head only; the body is frozen, its batch normalisation in inference mode. Needs weights. */
  freeze?: 'base';
  /**
   * With freeze: from this epoch on (1-based epochs 1..unfreezeAt train the head only) the layers from
   * `unfreezeFrom` on train too, with a fresh optimizer at `fineTuneLearningRate`.
   */
  unfreezeAt?: number;
  /** First layer (or block name) to unfreeze. Default: the top two inception blocks (DEFAULT_UNFREEZE_FROM). */
  unfreezeFrom?: string;
  /** Learning rate after unfreezing. Default 1e-5 (the Keras guide's). */
  fineTuneLearningRate?: number;
  /**
   * 'bf16': mixed precision as PyTorch's CPU autocast (trainModel's `precision`), where the CPU has
   * AVX512_BF16 or AMX; default 'fp32'. Saved with the checkpoints; given on resume, it replaces the
   * checkpoint's (to continue a bf16 run on a CPU without bf16).
   */
  precision?: ComputePrecision;
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
  /**
   * Data-parallel training: every rank of the collective calls trainImageClassifier with the same options
   * (batchSize is the global batch, so the run is the same on any number of ranks). Rank 0 measures the
   * normalisation, and its weights and optimizer state start every rank; each rank trains and validates on
   * its part of every global batch; only rank 0 prints and writes the model folder. `data` and, to resume,
   * `out` must be readable by every rank (a shared file system).
   */
  collective?: Collective;
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

/** Options that stay optional once resolved. */
type OptionalOption =
  | 'valData'
  | 'reduceLr'
  | 'earlyStopping'
  | 'weights'
  | 'freeze'
  | 'unfreezeAt'
  | 'unfreezeFrom'
  | 'fineTuneLearningRate';
type ResolvedTrainOptions = Required<Omit<TrainClassifierOptions, OptionalOption>> &
  Pick<TrainClassifierOptions, OptionalOption>;

/** What checkpoints/last keeps beside the training state: enough to rebuild the run. */
interface RunMeta {
  options: ResolvedTrainOptions;
  labels: string[];
  preprocessing: Preprocessing;
}

/** Builder and arguments: the caller's, else what the weights fix (their input shape included), else defaults. */
function resolveModel(o: TrainClassifierOptions): Pick<ResolvedTrainOptions, 'model' | 'modelArgs'> {
  const given = Object.fromEntries(
    Object.entries(o.modelArgs ?? {}).filter(([, v]) => v !== undefined),
  ) as TrainClassifierOptions['modelArgs'];
  if (!o.weights) return { model: o.model ?? TRAIN_DEFAULTS.model, modelArgs: given ?? {} };
  const fixed = weightsArchitecture(o.weights);
  const model = o.model ?? fixed.model ?? TRAIN_DEFAULTS.model;
  // Throws naming the spec when it names nothing usable for this builder, before anything is created.
  const meta = weightsMeta(model, o.weights);
  const inputShape = meta?.preprocessing.inputShape;
  const defaults = weightsFixedArgs(model, o.weights, fixed);
  return { model, modelArgs: { ...(inputShape ? { inputShape } : {}), ...defaults, ...given } };
}

function checkFineTuneOptions(r: ResolvedTrainOptions): void {
  if (r.freeze !== undefined && r.freeze !== 'base') {
    throw new FineTuneOptionError(`train: freeze must be 'base', got ${JSON.stringify(r.freeze)}`);
  }
  if (r.freeze && !r.weights) {
    throw new FineTuneOptionError(
      'train: freeze needs weights (a pretrained body): a randomly initialised body has nothing to keep',
    );
  }
  if (r.unfreezeAt === undefined) {
    const orphan = (['unfreezeFrom', 'fineTuneLearningRate'] as const).find((k) => r[k] !== undefined);
    if (orphan) throw new FineTuneOptionError(`train: ${orphan} needs unfreezeAt`);
    return;
  }
  if (!r.freeze) throw new FineTuneOptionError("train: unfreezeAt needs freeze: 'base'");
  if (!(Number.isInteger(r.unfreezeAt) && r.unfreezeAt >= 1 && r.unfreezeAt < r.epochs)) {
    throw new FineTuneOptionError(
      `train: unfreezeAt must be an integer in [1, ${r.epochs - 1}] (below epochs), got ${JSON.stringify(r.unfreezeAt)}`,
    );
  }
  const lr = r.fineTuneLearningRate;
  if (!(typeof lr === 'number' && Number.isFinite(lr) && lr > 0)) {
    throw new FineTuneOptionError(
      `train: fineTuneLearningRate must be a positive number, got ${JSON.stringify(lr)}`,
    );
  }
  if (r.lrSchedule === 'cosine') {
    throw new FineTuneOptionError(
      'train: the cosine schedule sets the learning rate every step, which would undo the fine-tuning rate; use the constant schedule with unfreezeAt',
    );
  }
}

/** Fails before anything is created when this process cannot compute in `precision`. */
function checkPrecision(precision: ComputePrecision, source: string): void {
  const reason = computePrecisionUnavailable(precision);
  if (reason) throw new Error(`train: precision ${reason}${source}`);
}

function resolveOptions(o: TrainClassifierOptions): ResolvedTrainOptions {
  const { model, modelArgs } = resolveModel(o);
  const r: ResolvedTrainOptions = {
    data: o.data,
    valData: o.valData,
    valSplit: o.valData ? 0 : (o.valSplit ?? TRAIN_DEFAULTS.valSplit),
    model,
    modelArgs,
    epochs: o.epochs ?? TRAIN_DEFAULTS.epochs,
    batchSize: o.batchSize ?? TRAIN_DEFAULTS.batchSize,
    optimizer: o.optimizer ?? TRAIN_DEFAULTS.optimizer,
    learningRate: o.learningRate ?? TRAIN_DEFAULTS.learningRate,
    seed: o.seed ?? TRAIN_DEFAULTS.seed,
    augmentation: o.augmentation ?? defaultAugmentation(modelArgs.inputShape ?? defaultInputShape()),
    monitor: o.monitor ?? (o.valData || (o.valSplit ?? TRAIN_DEFAULTS.valSplit) > 0 ? 'val_loss' : 'loss'),
    reduceLr: o.reduceLr ?? (o.lrSchedule === 'cosine' ? false : {}),
    lrSchedule: o.lrSchedule ?? TRAIN_DEFAULTS.lrSchedule,
    warmupEpochs: o.warmupEpochs ?? TRAIN_DEFAULTS.warmupEpochs,
    earlyStopping: o.earlyStopping ?? false,
    keep: o.keep ?? TRAIN_DEFAULTS.keep,
    onBadFile: o.onBadFile ?? 'error',
    terminateOnNaN: o.terminateOnNaN ?? true,
    weights: o.weights,
    freeze: o.freeze,
    unfreezeAt: o.unfreezeAt,
    unfreezeFrom: o.unfreezeFrom,
    fineTuneLearningRate:
      o.unfreezeAt === undefined ? o.fineTuneLearningRate : (o.fineTuneLearningRate ?? DEFAULT_FINE_TUNE_LR),
    precision: o.precision ?? TRAIN_DEFAULTS.precision,
    out: o.out,
  };
  checkFineTuneOptions(r);
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

/** Where a run writes (its own generation of the model folder) and which checkpoint it resumes from. */
interface RunFolder {
  gen: string;
  resumeFrom: string | null;
  /** Set once the run has written its own first checkpoint. */
  checkpointed: boolean;
  /** After a failure: deletes the run's new generation unless the run wrote a checkpoint to resume from. */
  abandon(): Promise<void>;
}

/**
 * Opens a run in the model folder `out`. Every run writes into a new generation, published only when it ends
 * well, so the published model and its checkpoints stay as they were until then. A resumed run continues an
 * unpublished (interrupted) generation if there is one, else starts a new one from links to the published
 * checkpoints. Leftovers of killed runs (temp files, generations without a checkpoint) are deleted first.
 */
async function openRun(out: string, resume: boolean): Promise<RunFolder> {
  const published = await currentGeneration(out);
  const resumable = async (gen: string) =>
    fs.stat(path.join(gen, LAST_CHECKPOINT, STATE_JSON)).then(
      (s) => s.mtimeMs,
      () => null,
    );
  const pending: { gen: string; mtime: number }[] = [];
  for (const gen of await generations(out)) {
    if (gen === published) continue;
    const mtime = await resumable(gen);
    if (mtime === null) await fs.rm(gen, { recursive: true, force: true });
    else pending.push({ gen, mtime });
  }
  await removeStaleTemps(out);
  const newRun = (gen: string, resumeFrom: string | null): RunFolder => {
    const run: RunFolder = {
      gen,
      resumeFrom,
      checkpointed: false,
      abandon: async () => {
        if (!run.checkpointed) await fs.rm(gen, { recursive: true, force: true });
      },
    };
    return run;
  };
  const keep = (gen: string): RunFolder => ({
    gen,
    resumeFrom: path.join(gen, LAST_CHECKPOINT),
    checkpointed: true,
    abandon: async () => {},
  });
  if (resume && pending.length) {
    const gen = pending.sort((a, b) => b.mtime - a.mtime)[0].gen;
    await removeStaleTemps(path.join(gen, CHECKPOINTS_DIR));
    return keep(gen);
  }
  if (resume) {
    const from = path.join(await resolveModelFolder(out), CHECKPOINTS_DIR);
    // Nothing to resume: fail naming out/checkpoints/last, before creating anything.
    if (!(await fs.stat(from).catch(() => null))) return keep(out);
    const gen = await newGeneration(out);
    await linkTree(from, path.join(gen, CHECKPOINTS_DIR));
    return newRun(gen, path.join(gen, LAST_CHECKPOINT));
  }
  return newRun(await newGeneration(out), null);
}

/**
 * Loads the weights `spec` into a model built for `labels`. A classifier of the same shape but for other
 * classes (five CIFAR classes onto five others) would start every class on a wrong one: the head is kept
 * from the weights only when their labels are the data's, and otherwise keeps its fresh initialisation.
 */
async function loadPretrained(
  model: tf.LayersModel,
  builder: string,
  spec: string,
  labels: string[],
  print: Printer,
): Promise<void> {
  const head = headLayers(model);
  const initial = head.map((l) => l.getWeights().map((w) => w.clone()));
  try {
    const meta = await loadWeights(model, builder, spec, { print, strict: false });
    const same = meta !== null && JSON.stringify(meta.categories) === JSON.stringify(labels);
    if (!same) {
      head.forEach((l, i) => {
        l.setWeights(initial[i]);
      });
      print(`a new classifier for the data's ${labels.length} classes (the weights' are others)`);
    }
  } finally {
    tf.dispose(initial.flat());
  }
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
  // Bad options fail before anything is created. A resumed run takes its options from the checkpoint.
  const resolved = hooks.resume ? null : resolveOptions(options);
  if (!options.out) throw new Error('train: the model folder (out) is required');
  if (resolved) checkPrecision(resolved.precision, '');
  else if (options.precision) checkPrecision(options.precision, '');
  const { collective } = hooks;
  if (collective && collective.rank !== 0) {
    // Rank 0 alone touches the model folder; the others learn from it where the run is and what it resumes.
    const shared = await broadcastJson(collective, { gen: '', resumeFrom: null as string | null });
    const follower: RunFolder = { ...shared, checkpointed: false, abandon: async () => {} };
    return trainInRun(follower, options, resolved, hooks);
  }
  const run = await openRun(options.out, Boolean(hooks.resume));
  if (collective) await broadcastJson(collective, { gen: run.gen, resumeFrom: run.resumeFrom });
  try {
    return await trainInRun(run, options, resolved, hooks);
  } catch (e) {
    await run.abandon();
    throw e;
  }
}

async function trainInRun(
  run: RunFolder,
  options: TrainClassifierOptions,
  resolved: ResolvedTrainOptions | null,
  hooks: TrainClassifierHooks,
): Promise<TrainClassifierResult> {
  const collective = hooks.collective;
  const rank = collective?.rank ?? 0;
  const writer = rank === 0;
  const print = (writer && hooks.print) || (() => {});
  const lastDir = path.join(run.gen, LAST_CHECKPOINT);
  const bestDir = path.join(run.gen, BEST_CHECKPOINT);
  let checkpoint: LoadedCheckpoint<RunMeta> | null = null;
  let o: ResolvedTrainOptions;
  if (run.resumeFrom) {
    checkpoint = await loadCheckpoint<RunMeta>(run.resumeFrom);
    const saved = checkpoint.meta.options;
    o = {
      ...saved,
      out: options.out,
      epochs: options.epochs ?? saved.epochs,
      // Checkpoints from before precisions existed are fp32 runs.
      precision: options.precision ?? saved.precision ?? 'fp32',
    };
    if (!options.precision) {
      checkPrecision(o.precision, " (the checkpoint's; resume with precision 'fp32' to continue in fp32)");
    }
    print(
      `resuming from ${checkpoint.dir} at epoch ${checkpoint.snapshot.epoch + 1}, step ${checkpoint.snapshot.step}`,
    );
  } else {
    o = resolved ?? resolveOptions(options);
  }
  if (collective && o.unfreezeAt !== undefined) {
    // DataParallel sizes its gradient buffers once, for the trainable weights of the first step.
    throw new FineTuneOptionError('train: unfreezeAt is not supported in data-parallel training');
  }
  const opened = await openDatasets(o, checkpoint?.meta.labels);
  const labels = opened.train.classNames;
  const inputShape = o.modelArgs.inputShape ?? defaultInputShape();
  // Skipped files are left out once, up front: the step counts, totals and image counts are then of the
  // images really used, and the stream never has to skip.
  const usable = (d: ImageFolderDataset) =>
    o.onBadFile === 'skip' ? withoutUndecodable(d, { inputShape, resize: 'fill' }) : Promise.resolve(d);
  const train = await usable(opened.train);
  const val = opened.val ? await usable(opened.val) : null;
  let measured: Preprocessing | null = checkpoint?.meta.preprocessing ?? null;
  if (!measured && o.weights) {
    // The weights' normalisation: the body was trained on inputs normalised so, not with this data's statistics.
    const meta = weightsMeta(o.model, o.weights);
    if (!meta) throw new Error(`weights ${o.weights}: no preprocessing travels with them`);
    measured = { ...meta.preprocessing, inputShape };
  }
  if (!measured && writer) {
    const stats = await channelStats(
      train,
      { inputShape, resize: 'fill' },
      { seed: o.seed, onBadFile: o.onBadFile },
    );
    measured = { inputShape, mean: stats.mean, std: stats.std, resize: 'fill' };
  }
  // Measured once, on rank 0; sent as JSON, so every rank normalises with the very same numbers.
  if (collective) measured = await broadcastJson(collective, measured);
  if (!measured) throw new Error('train: no normalisation statistics');
  const preprocessing = measured;
  const info: ModelInfo = {
    model: o.model,
    widthMultiplier: o.modelArgs.widthMultiplier ?? 1,
    labels,
    preprocessing,
  };
  const model =
    checkpoint?.model ??
    buildModel(o.model, {
      ...o.modelArgs,
      seed: o.modelArgs.seed ?? o.seed,
      inputShape,
      numClasses: labels.length,
    });
  if (!checkpoint && o.weights) await loadPretrained(model, o.model, o.weights, labels, print);
  // Frozen and unfrozen layers are set again on resume: BN's inference mode is not saved with the model.
  if (o.freeze) freezeBase(model);
  const unfreeze =
    o.unfreezeAt === undefined ? null : { at: o.unfreezeAt, start: unfreezeStart(model, o.unfreezeFrom) };
  // Unfrozen already when the checkpoint is from after the unfreeze (it happens as epoch unfreezeAt begins).
  const snap = checkpoint?.snapshot;
  const unfrozen =
    unfreeze !== null &&
    snap !== undefined &&
    (snap.epoch > unfreeze.at || (snap.epoch === unfreeze.at && snap.step > 0));
  if (unfreeze && unfrozen) unfreezeFrom(model, unfreeze.start);
  const optimizer = createOptimizer(
    o.optimizer,
    unfrozen ? (o.fineTuneLearningRate as number) : o.learningRate,
  );
  compileClassifier(model, optimizer);
  if (checkpoint) await restoreOptimizer(optimizer, checkpoint);

  const batchOptions = {
    batchSize: o.batchSize,
    preprocessing,
    seed: o.seed,
    onBadFile: o.onBadFile,
    shard: { rank, size: collective?.size ?? 1 },
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
  // First of ours: a diverged epoch must stop before the checkpoint callbacks see it.
  if (o.terminateOnNaN !== false) callbacks.push(terminateOnNaN());
  if (unfreeze) {
    callbacks.push(
      unfreezeSchedule({
        epoch: unfreeze.at,
        start: unfreeze.start,
        optimizer: o.optimizer,
        learningRate: o.fineTuneLearningRate as number,
        unfrozen,
        print,
      }),
    );
  }
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
  // The writers live on rank 0 only; they change nothing the other ranks' training depends on.
  if (writer) callbacks.push(best, csvLogger(path.join(run.gen, CHECKPOINTS_DIR, HISTORY_CSV)));

  if (o.precision === 'bf16') {
    print('mixed precision: convolutions and matmuls in bf16; weights, optimizer state and the rest in fp32');
  }
  const meta: RunMeta = { options: o, labels, preprocessing };
  let result: Awaited<ReturnType<typeof trainModel>>;
  let firstSnapshot = true;
  try {
    result = await trainModel(model, trainSource, {
      epochs: o.epochs,
      validationData: valSource,
      callbacks,
      signal: hooks.signal,
      resume: checkpoint?.snapshot,
      collective,
      precision: o.precision,
      onSnapshot: async (s) => {
        if (!writer) return;
        await saveCheckpoint(lastDir, model, s, meta);
        // This run is now the one to resume: unpublished runs before it are superseded.
        if (firstSnapshot) await removeGenerations(o.out, [run.gen]);
        firstSnapshot = false;
        run.checkpointed = true;
      },
    });
  } catch (e) {
    model.optimizer.dispose();
    model.dispose();
    throw e;
  } finally {
    if (checkpoint) disposeCheckpointState(checkpoint);
  }

  let savedEpoch: number | null = null;
  if (!result.interrupted && writer) {
    if (o.keep === 'best' && best.lastSavedEpoch >= 0) {
      const bestModel = await tf.loadLayersModel(folderLoader(bestDir));
      model.setWeights(bestModel.getWeights());
      bestModel.dispose();
      savedEpoch = best.lastSavedEpoch + 1;
    } else {
      savedEpoch = result.rows.length ? result.rows[result.rows.length - 1].epoch + 1 : null;
    }
    await saveModelFolder(run.gen, model, info);
    await writeFileAtomic(path.join(run.gen, HISTORY_CSV), formatHistoryCsv(result.rows));
    await writeFileAtomic(path.join(run.gen, HISTORY_JSON), `${JSON.stringify(result.history, null, 1)}\n`);
    await writeFileAtomic(
      path.join(run.gen, CURVES_SVG),
      trainingCurvesSvg(result.rows, `${o.model} on ${o.data}`),
    );
    await publishGeneration(o.out, run.gen);
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
    lastCheckpoint: result.interrupted ? lastDir : path.join(o.out, LAST_CHECKPOINT),
    trainImages: train.size,
    valImages: val?.size ?? 0,
    options: o,
  };
}
