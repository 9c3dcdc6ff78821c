import { COMPUTE_PRECISIONS, computePrecisionUnavailable } from '../backend/precision';
import { DEFAULT_COLLECTIVE_TIMEOUT_SECONDS, initCollective } from '../distributed/collective';
import { DEFAULT_MODEL } from '../models/registry';
import { MAX_SEED } from '../random';
import { EARLY_STOPPING_DEFAULTS } from '../training/early_stopping';
import { DEFAULT_FINE_TUNE_LR, DEFAULT_UNFREEZE_FROM, FineTuneOptionError } from '../training/fine_tune';
import { OPTIMIZER_NAMES } from '../training/optimizers';
import { ProgressBar } from '../training/progress_bar';
import { REDUCE_LR_DEFAULTS } from '../training/reduce_lr_on_plateau';
import {
  LR_SCHEDULES,
  TRAIN_DEFAULTS,
  type TrainClassifierOptions,
  trainImageClassifier,
} from '../training/train_classifier';
import { weightsArchitecture } from '../training/weights_architecture';
import { weightsMeta } from '../weights/load';
import { UsageError } from './args';
import { defineCommand, parseCommandLine } from './flags';
import { googlenetArgsFromFlags, MODEL_FLAGS_NO_CLASSES } from './model_flags';
import { interruptible, trainingReport } from './training_output';

export const command = defineCommand({
  name: 'train',
  usage: `--data DIR [--val-data DIR | --val-split F] [--model NAME] [--width X] [--input-size N] [--epochs N] [--batch-size N] [--optimizer ${OPTIMIZER_NAMES.join('|')}] [--lr X] [--precision ${COMPUTE_PRECISIONS.join('|')}] [--out DIR] [--resume] [--json] [--weights SPEC] [--freeze base] [--unfreeze-at EPOCH] [--unfreeze-from LAYER] [--fine-tune-lr X] [callback flags]`,
  description:
    "Trains on DIR/<class>/<images> (JPEG/PNG, any size, resized to the input). Images are normalised per channel with the training set's mean and std (saved in preprocessing.json); training batches are shuffled and augmented (random horizontal flip, 4-pixel reflect pad + random crop) unless --no-augment.",
  flags: {
    data: {
      type: 'string',
      metavar: 'DIR',
      group: 'data',
      help: 'training image folder (one sub-folder per class); required unless --resume',
    },
    'val-data': {
      type: 'string',
      metavar: 'DIR',
      group: 'data',
      help: 'validation image folder with the same class folders',
    },
    'val-split': {
      type: 'non-negative',
      below: 1,
      metavar: 'F',
      default: TRAIN_DEFAULTS.valSplit,
      group: 'data',
      help: 'hold out this fraction of --data per class for validation (0: none)',
    },
    'skip-bad-files': {
      type: 'boolean',
      group: 'data',
      help: 'leave undecodable images out (a warning each; every image is checked once before training, so counts and step totals are of the images used)',
    },
    seed: {
      type: 'int',
      min: 0,
      max: MAX_SEED,
      default: TRAIN_DEFAULTS.seed,
      group: 'data',
      help: 'seeds everything random: the split, shuffling, augmentation, initial weights and dropout; the same seed and data on one backend, machine and thread count give byte-identical weights.bin and history',
    },
    'no-augment': { type: 'boolean', group: 'data', help: 'no flip/crop augmentation' },
    ...MODEL_FLAGS_NO_CLASSES,
    epochs: {
      type: 'int',
      default: TRAIN_DEFAULTS.epochs,
      group: 'training',
      help: "epochs to train; with --resume, the new total (absent: the run's own)",
    },
    'batch-size': {
      type: 'int',
      default: TRAIN_DEFAULTS.batchSize,
      group: 'training',
      help: 'images per step; with --distributed, the global batch, split across the ranks',
    },
    optimizer: {
      type: 'choice',
      choices: OPTIMIZER_NAMES,
      default: TRAIN_DEFAULTS.optimizer,
      group: 'training',
      help: 'the optimizer, with Keras defaults; sgd uses momentum 0.9',
    },
    lr: {
      type: 'positive',
      default: TRAIN_DEFAULTS.learningRate,
      group: 'training',
      help: 'learning rate; with cosine, the peak',
    },
    'lr-schedule': {
      type: 'choice',
      choices: LR_SCHEDULES,
      default: TRAIN_DEFAULTS.lrSchedule,
      group: 'training',
      help: 'constant (ReduceLROnPlateau may lower it) or, per step, linear warm-up to --lr then cosine decay to 0 at the last step (Keras CosineDecay with warmup_target; turns ReduceLROnPlateau off)',
    },
    precision: {
      type: 'choice',
      choices: COMPUTE_PRECISIONS,
      default: TRAIN_DEFAULTS.precision,
      group: 'training',
      help: "bf16: mixed precision as PyTorch's CPU autocast (convolutions and matmuls compute in bf16; weights, gradients, optimizer state, normalisation and losses stay fp32), on CPUs with AVX512_BF16 or AMX. Saved with the checkpoints: --resume keeps the run's unless given",
    },
    'warmup-epochs': {
      type: 'int',
      min: 0,
      default: TRAIN_DEFAULTS.warmupEpochs,
      group: 'training',
      help: 'warm-up of the cosine schedule',
    },
    out: {
      type: 'string',
      metavar: 'DIR',
      default: 'runs/train',
      group: 'training',
      help: 'the model folder',
    },
    resume: {
      type: 'boolean',
      group: 'training',
      help: 'continue the run in --out from checkpoints/last (weights, optimizer state, epoch, learning rate, callback state); --epochs may raise the total',
    },
    keep: {
      type: 'choice',
      choices: ['best', 'last'],
      default: TRAIN_DEFAULTS.keep,
      group: 'training',
      help: "save the best epoch's weights (by --monitor) or the last epoch's",
    },
    json: {
      type: 'boolean',
      group: 'training',
      help: 'print one JSON document (history, result) on stdout; progress goes to stderr',
    },
    distributed: {
      type: 'boolean',
      group: 'distributed (docs/distributed.md)',
      help: 'data-parallel training over MPI: run under mpirun -np N, srun --mpi=pmix or a Kubeflow MPIJob (without a launcher: a world of 1). --batch-size stays the global batch, so the run, its checkpoints and --resume do not depend on the number of ranks; rank 0 alone prints and writes --out',
    },
    'collective-timeout': {
      type: 'positive',
      metavar: 'SECONDS',
      default: DEFAULT_COLLECTIVE_TIMEOUT_SECONDS,
      group: 'distributed (docs/distributed.md)',
      help: 'a rank that has not reached a collective within this time (dead, stalled) ends the whole job, named, with exit 1',
    },
    monitor: {
      type: 'string',
      metavar: 'NAME',
      group: 'callbacks (Keras semantics)',
      defaultText: `${REDUCE_LR_DEFAULTS.monitor}; loss without validation`,
      help: 'quantity the callbacks watch',
    },
    'reduce-lr-patience': {
      type: 'int',
      min: 0,
      default: REDUCE_LR_DEFAULTS.patience,
      group: 'callbacks (Keras semantics)',
      help: 'ReduceLROnPlateau patience',
    },
    'reduce-lr-factor': {
      type: 'positive',
      below: 1,
      metavar: 'F',
      default: REDUCE_LR_DEFAULTS.factor,
      group: 'callbacks (Keras semantics)',
      help: 'ReduceLROnPlateau factor',
    },
    'reduce-lr-cooldown': {
      type: 'int',
      min: 0,
      default: REDUCE_LR_DEFAULTS.cooldown,
      group: 'callbacks (Keras semantics)',
      help: 'ReduceLROnPlateau cooldown',
    },
    'min-lr': {
      type: 'non-negative',
      default: REDUCE_LR_DEFAULTS.minLr,
      group: 'callbacks (Keras semantics)',
      help: 'ReduceLROnPlateau min_lr',
    },
    'min-delta': {
      type: 'non-negative',
      defaultText: `${REDUCE_LR_DEFAULTS.minDelta} / ${EARLY_STOPPING_DEFAULTS.minDelta}`,
      group: 'callbacks (Keras semantics)',
      help: 'ReduceLROnPlateau / EarlyStopping min_delta',
    },
    'no-reduce-lr': { type: 'boolean', group: 'callbacks (Keras semantics)', help: 'no ReduceLROnPlateau' },
    'early-stopping-patience': {
      type: 'int',
      min: 0,
      defaultText: 'off',
      group: 'callbacks (Keras semantics)',
      help: 'enable EarlyStopping with this patience',
    },
    weights: {
      type: 'string',
      metavar: 'SPEC',
      group: 'fine-tuning (the Keras transfer-learning recipe)',
      help: "start from these weights: a shipped model (cifar10), a model folder (runs/mine), a registry name or a weights file. They fix --model, --width and the input size unless given, and their normalisation replaces the training images' statistics; a head for another class count starts afresh",
    },
    freeze: {
      type: 'choice',
      choices: ['base'],
      group: 'fine-tuning (the Keras transfer-learning recipe)',
      help: 'train the new head only: every other layer is frozen, its batch normalisation in inference mode (moving statistics used, not updated); needs --weights',
    },
    'unfreeze-at': {
      type: 'int',
      min: 1,
      metavar: 'EPOCH',
      group: 'fine-tuning (the Keras transfer-learning recipe)',
      help: 'with --freeze: after this many head-only epochs, the layers from --unfreeze-from on train too (batch normalisation stays in inference mode), with a fresh optimizer at --fine-tune-lr',
    },
    'unfreeze-from': {
      type: 'string',
      metavar: 'LAYER',
      group: 'fine-tuning (the Keras transfer-learning recipe)',
      defaultText: `the top two inception blocks: the first of ${DEFAULT_UNFREEZE_FROM.map((c) => ('layer' in c ? c.layer : `the layers after ${c.after}`)).join(', ')} the model has`,
      help: "first layer to unfreeze, or a block (inception_4e: its branches and concat); every layer after it in the model's order unfreezes too",
    },
    'fine-tune-lr': {
      type: 'positive',
      metavar: 'X',
      group: 'fine-tuning (the Keras transfer-learning recipe)',
      defaultText: `${DEFAULT_FINE_TUNE_LR} (the Keras guide's Adam rate)`,
      help: 'learning rate from --unfreeze-at on',
    },
    'restore-best-weights': {
      type: 'boolean',
      group: 'callbacks (Keras semantics)',
      help: "EarlyStopping restores the best epoch's weights when it stops",
    },
  },
  epilog:
    'The model folder gets model.json + weights.bin, labels.json, preprocessing.json, model-info.json, history.csv, history.json, training-curves.svg, checkpoints/best/ and checkpoints/last/. Ctrl-C (SIGINT), SIGTERM or SIGUSR1 finishes the current step, writes its checkpoint and exits 130; continue with --resume (with --distributed, on any number of ranks). Each run writes into its own generation of --out (.gen-<id>/) and publishes it whole, by one rename of the --out/current link, only when it ends well: a failed, interrupted or killed run leaves an earlier model in --out, checkpoints included, as it was, and --resume continues the interrupted run. A NaN or infinite loss, metric or weight stops training with an error (exit 1; Keras TerminateOnNaN) before anything diverged is saved.',
});

/** Flags a resumed run takes from the command line; the others come from the checkpoint. */
const RESUME_FLAGS = ['out', 'resume', 'epochs', 'precision', 'json', 'distributed', 'collective-timeout'];

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values, given } = cmd;
  const resume = values.resume;
  if (!resume && !values.data)
    throw new UsageError('--data DIR is required (or --resume to continue a run in --out)');
  if (given.has('val-data') && given.has('val-split')) {
    throw new UsageError('give either --val-data or --val-split, not both');
  }
  const lrSchedule = values['lr-schedule'];
  const reduceLrFlags = [...given].filter((k) => k.startsWith('reduce-lr-') || k === 'min-lr');
  if (lrSchedule === 'cosine' && reduceLrFlags.length) {
    throw new UsageError(`--lr-schedule cosine turns ReduceLROnPlateau off; drop --${reduceLrFlags[0]}`);
  }
  if (given.has('warmup-epochs') && lrSchedule !== 'cosine') {
    throw new UsageError('--warmup-epochs needs --lr-schedule cosine');
  }
  if (values['restore-best-weights'] && values['early-stopping-patience'] === undefined) {
    throw new UsageError('--restore-best-weights needs --early-stopping-patience N');
  }
  checkFineTuneFlags(values, given);
  const precision = resume && !given.has('precision') ? undefined : values.precision;
  const unavailable = precision && computePrecisionUnavailable(precision);
  if (unavailable) throw new UsageError(`--precision ${unavailable}`);
  const { model, args } = googlenetArgsFromFlags(values);
  const weights = values.weights;
  if (weights !== undefined) {
    // The weights fix what the command line leaves out: the builder, the width and the input size.
    if (!given.has('width')) delete args.widthMultiplier;
    if (!given.has('input-size') && !given.has('input-shape')) delete args.inputShape;
    const builder = given.has('model') ? model : (weightsArchitecture(weights).model ?? DEFAULT_MODEL);
    try {
      weightsMeta(builder, weights);
    } catch (e) {
      throw new UsageError(`--weights: ${(e as Error).message}`);
    }
  }
  const minDelta = values['min-delta'];
  const esPatience = values['early-stopping-patience'];
  const options: TrainClassifierOptions = {
    data: values.data as string,
    valData: values['val-data'],
    valSplit: values['val-split'],
    model: weights !== undefined && !given.has('model') ? undefined : model,
    modelArgs: args,
    epochs: resume && !given.has('epochs') ? undefined : values.epochs,
    batchSize: values['batch-size'],
    optimizer: values.optimizer,
    learningRate: values.lr,
    seed: values.seed,
    augmentation: values['no-augment'] ? false : undefined,
    monitor: values.monitor,
    lrSchedule,
    warmupEpochs: values['warmup-epochs'],
    reduceLr:
      values['no-reduce-lr'] || lrSchedule === 'cosine'
        ? false
        : {
            patience: values['reduce-lr-patience'],
            factor: values['reduce-lr-factor'],
            cooldown: values['reduce-lr-cooldown'],
            minLr: values['min-lr'],
            minDelta,
          },
    earlyStopping:
      esPatience === undefined
        ? false
        : { patience: esPatience, minDelta, restoreBestWeights: values['restore-best-weights'] },
    keep: values.keep,
    onBadFile: values['skip-bad-files'] ? 'skip' : 'error',
    weights,
    freeze: values.freeze as 'base' | undefined,
    unfreezeAt: values['unfreeze-at'],
    unfreezeFrom: values['unfreeze-from'],
    fineTuneLearningRate: values['fine-tune-lr'],
    precision,
    out: values.out,
  };
  if (given.has('collective-timeout') && !values.distributed) {
    throw new UsageError('--collective-timeout needs --distributed');
  }
  // MPI started before the engine loaded (beforeEngine in commands.ts); this takes the same collective.
  const collective = values.distributed
    ? initCollective({ timeoutSeconds: values['collective-timeout'] })
    : undefined;
  const rank = collective?.rank ?? 0;
  const ranks = collective?.size ?? 1;
  if (resume && rank === 0) {
    // A resumed run keeps the options it was started with (they are in checkpoints/last); say so.
    const ignored = [...given].filter((k) => !RESUME_FLAGS.includes(k));
    if (ignored.length)
      process.stderr.write(
        `train --resume: using the checkpoint's options; ignoring --${ignored.join(', --')}\n`,
      );
  }
  const json = values.json;
  const stream = json ? process.stderr : process.stdout;
  // Rank 0 alone prints progress; the other ranks train silently.
  const print = rank === 0 ? (line: string) => stream.write(`${line}\n`) : undefined;
  if (collective && print) {
    const threads = collective.threads;
    const launcher = collective.launch.launcher === 'none' ? 'no launcher' : collective.launch.launcher;
    print(
      `distributed: ${ranks} rank${ranks === 1 ? '' : 's'} (${launcher}, ${collective.mpiLibrary})` +
        `${threads ? `, ${threads.threads} engine thread${threads.threads === 1 ? '' : 's'} per rank (${threads.source})` : ''}` +
        `${resume ? '' : `, global batch ${options.batchSize}`}`,
    );
    if (threads?.warning) process.stderr.write(`warning: ${threads.warning}\n`);
  }
  const started = Date.now();
  let result: Awaited<ReturnType<typeof trainImageClassifier>>;
  try {
    result = await interruptible(
      (signal) =>
        trainImageClassifier(options, {
          callbacks: rank === 0 ? [new ProgressBar({ stream })] : [],
          signal,
          resume,
          print,
          collective,
        }),
      collective && ranks > 1 ? `rank ${rank}: ` : '',
    );
  } catch (e) {
    // Found once the model is built (an unknown --unfreeze-from layer, a model without a body): a bad flag.
    const error = e instanceof FineTuneOptionError ? new UsageError(e.message) : e;
    // One rank failing must end them all now, not leave the others waiting for it until the timeout.
    if (collective && ranks > 1) collective.abort(1, `train: ${e instanceof Error ? e.message : String(e)}`);
    throw error;
  }
  collective?.finalize();
  if (rank !== 0) return result.interrupted ? 130 : 0;
  return trainingReport(result, (Date.now() - started) / 1000, json);
}

/** The fine-tuning flags' combinations, checked before anything is read (exit 2). */
function checkFineTuneFlags(
  values: {
    weights?: string;
    freeze?: string;
    'unfreeze-at'?: number;
    epochs: number;
    'lr-schedule': string;
    distributed: boolean;
  },
  given: ReadonlySet<string>,
): void {
  if (values.freeze && values.weights === undefined) {
    throw new UsageError(
      '--freeze base needs --weights SPEC: a randomly initialised body has nothing to keep',
    );
  }
  const at = values['unfreeze-at'];
  if (at === undefined) {
    const orphan = ['unfreeze-from', 'fine-tune-lr'].find((k) => given.has(k));
    if (orphan) throw new UsageError(`--${orphan} needs --unfreeze-at EPOCH`);
    return;
  }
  if (!values.freeze)
    throw new UsageError('--unfreeze-at needs --freeze base (there is nothing frozen to unfreeze)');
  if (given.has('epochs') && at >= values.epochs) {
    throw new UsageError(`--unfreeze-at ${at} must be below --epochs ${values.epochs}`);
  }
  if (values['lr-schedule'] === 'cosine') {
    throw new UsageError('--unfreeze-at needs the constant schedule: cosine would overwrite --fine-tune-lr');
  }
  if (values.distributed) {
    throw new UsageError(
      '--unfreeze-at is not supported with --distributed (the ranks share a fixed set of trainable weights)',
    );
  }
}
