import { MAX_SEED } from '../random';
import { OPTIMIZER_NAMES, type OptimizerName } from '../training/optimizers';
import { ProgressBar } from '../training/progress_bar';
import { type TrainClassifierOptions, trainImageClassifier } from '../training/train_classifier';
import { intFlag, nonNegativeFlag, numberFlag, parse, UsageError } from './args';
import { googlenetArgsFromFlags, MODEL_FLAGS_HELP, MODEL_FLAGS_NO_CLASSES } from './model_flags';
import { interruptible, trainingReport } from './training_output';

export const summary = 'train a network on an image folder (Keras callbacks, checkpoints, --resume)';

const HELP = `usage: inception train --data DIR [--val-data DIR | --val-split 0.1] [--model NAME] [--width X]
                       [--input-size N] [--epochs N] [--batch-size N] [--optimizer adam|rmsprop|sgd]
                       [--lr X] [--out DIR] [--resume] [--json] [callback flags]

Trains on DIR/<class>/<images> (JPEG/PNG, any size, resized to the input). Images are normalised per channel
with the training set's mean and std (saved in preprocessing.json); training batches are shuffled and
augmented (random horizontal flip, 4-pixel reflect pad + random crop) unless --no-augment.

data:
  --data DIR                    training image folder (one sub-folder per class)
  --val-data DIR                validation image folder with the same class folders
  --val-split F                 hold out this fraction of --data per class for validation (default 0.1; 0: none)
  --skip-bad-files              skip undecodable images with a warning instead of stopping
  --seed N                      seeds everything random: the split, shuffling, augmentation, initial
                                weights and dropout (default 0); the same seed and data on one backend,
                                machine and thread count give byte-identical weights.bin and history
  --no-augment                  no flip/crop augmentation

model:
${MODEL_FLAGS_HELP}

training:
  --epochs N                    (default 10)
  --batch-size N                (default 32)
  --optimizer adam|rmsprop|sgd  (default adam; sgd uses momentum 0.9)
  --lr X                        learning rate (default 0.001); with cosine, the peak
  --lr-schedule constant|cosine constant (default; ReduceLROnPlateau may lower it) or, per step, linear
                                warm-up to --lr then cosine decay to 0 at the last step (Keras CosineDecay
                                with warmup_target; turns ReduceLROnPlateau off)
  --warmup-epochs N             warm-up of the cosine schedule (default 1)
  --out DIR                     the model folder (default runs/train)
  --resume                      continue the run in --out from checkpoints/last (weights, optimizer state,
                                epoch, learning rate, callback state); --epochs may raise the total
  --keep best|last              save the best epoch's weights (by --monitor; default) or the last epoch's
  --json                        print one JSON document (history, result) on stdout; progress goes to stderr

callbacks (Keras semantics):
  --monitor NAME                quantity the callbacks watch (default val_loss; loss without validation)
  --reduce-lr-patience N        ReduceLROnPlateau patience (default 10)
  --reduce-lr-factor F          ReduceLROnPlateau factor (default 0.1)
  --reduce-lr-cooldown N        ReduceLROnPlateau cooldown (default 0)
  --min-lr X                    ReduceLROnPlateau min_lr (default 0)
  --min-delta X                 ReduceLROnPlateau / EarlyStopping min_delta (default 1e-4 / 0)
  --no-reduce-lr                no ReduceLROnPlateau
  --early-stopping-patience N   enable EarlyStopping with this patience
  --restore-best-weights        EarlyStopping restores the best epoch's weights when it stops

The model folder gets model.json + weights.bin, labels.json, preprocessing.json, model-info.json,
history.csv, history.json, training-curves.svg, checkpoints/best/ and checkpoints/last/. Ctrl-C finishes the
current step, writes checkpoints/last and exits 130; continue with --resume. A failed or interrupted run leaves
an earlier model in --out untouched.`;

/** --seed: an integer in [0, MAX_SEED] (the builders' and the data pipeline's seeds are 32-bit). */
function seedFlag(value: string | undefined): number {
  const seed = intFlag('seed', value, 0, 0);
  if (seed > MAX_SEED)
    throw new UsageError(`--seed must be at most ${MAX_SEED}, got ${JSON.stringify(value)}`);
  return seed;
}

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    ...MODEL_FLAGS_NO_CLASSES,
    data: { type: 'string' },
    'val-data': { type: 'string' },
    'val-split': { type: 'string' },
    'skip-bad-files': { type: 'boolean' },
    seed: { type: 'string' },
    'no-augment': { type: 'boolean' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    optimizer: { type: 'string' },
    lr: { type: 'string' },
    'lr-schedule': { type: 'string' },
    'warmup-epochs': { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'boolean' },
    keep: { type: 'string' },
    json: { type: 'boolean' },
    monitor: { type: 'string' },
    'reduce-lr-patience': { type: 'string' },
    'reduce-lr-factor': { type: 'string' },
    'reduce-lr-cooldown': { type: 'string' },
    'min-lr': { type: 'string' },
    'min-delta': { type: 'string' },
    'no-reduce-lr': { type: 'boolean' },
    'early-stopping-patience': { type: 'string' },
    'restore-best-weights': { type: 'boolean' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = (values.out as string | undefined) ?? 'runs/train';
  const resume = Boolean(values.resume);
  if (!resume && !values.data)
    throw new UsageError('--data DIR is required (or --resume to continue a run in --out)');
  if (values['val-data'] && values['val-split'] !== undefined) {
    throw new UsageError('give either --val-data or --val-split, not both');
  }
  const optimizer = (values.optimizer as string | undefined) ?? 'adam';
  if (!OPTIMIZER_NAMES.includes(optimizer as OptimizerName)) {
    throw new UsageError(
      `--optimizer must be one of ${OPTIMIZER_NAMES.join(', ')}, got ${JSON.stringify(optimizer)}`,
    );
  }
  const lrSchedule = (values['lr-schedule'] as string | undefined) ?? 'constant';
  if (lrSchedule !== 'constant' && lrSchedule !== 'cosine') {
    throw new UsageError(`--lr-schedule must be constant or cosine, got ${JSON.stringify(lrSchedule)}`);
  }
  const reduceLrFlags = Object.keys(values).filter((k) => k.startsWith('reduce-lr-') || k === 'min-lr');
  if (lrSchedule === 'cosine' && reduceLrFlags.length) {
    throw new UsageError(`--lr-schedule cosine turns ReduceLROnPlateau off; drop --${reduceLrFlags[0]}`);
  }
  if (values['warmup-epochs'] !== undefined && lrSchedule !== 'cosine') {
    throw new UsageError('--warmup-epochs needs --lr-schedule cosine');
  }
  const keep = (values.keep as string | undefined) ?? 'best';
  if (keep !== 'best' && keep !== 'last')
    throw new UsageError(`--keep must be best or last, got ${JSON.stringify(keep)}`);
  const { model, args } = googlenetArgsFromFlags(values);
  const { numClasses: _, ...modelArgs } = args;
  const minDelta = values['min-delta'] as string | undefined;
  const esPatience = values['early-stopping-patience'] as string | undefined;
  if (values['restore-best-weights'] && esPatience === undefined) {
    throw new UsageError('--restore-best-weights needs --early-stopping-patience N');
  }
  const options: TrainClassifierOptions = {
    data: values.data as string,
    valData: values['val-data'] as string | undefined,
    valSplit: nonNegativeFlag('val-split', values['val-split'] as string | undefined, 0.1, 1),
    model,
    modelArgs,
    epochs:
      values.epochs === undefined && resume
        ? undefined
        : intFlag('epochs', values.epochs as string | undefined, 10),
    batchSize: intFlag('batch-size', values['batch-size'] as string | undefined, 32),
    optimizer: optimizer as OptimizerName,
    learningRate: numberFlag('lr', values.lr as string | undefined, 1e-3),
    seed: seedFlag(values.seed as string | undefined),
    augmentation: values['no-augment'] ? false : undefined,
    monitor: values.monitor as string | undefined,
    lrSchedule,
    warmupEpochs: intFlag('warmup-epochs', values['warmup-epochs'] as string | undefined, 1, 0),
    reduceLr:
      values['no-reduce-lr'] || lrSchedule === 'cosine'
        ? false
        : {
            patience: intFlag(
              'reduce-lr-patience',
              values['reduce-lr-patience'] as string | undefined,
              10,
              0,
            ),
            factor: nonNegativeFlag(
              'reduce-lr-factor',
              values['reduce-lr-factor'] as string | undefined,
              0.1,
              1,
            ),
            cooldown: intFlag('reduce-lr-cooldown', values['reduce-lr-cooldown'] as string | undefined, 0, 0),
            minLr: nonNegativeFlag('min-lr', values['min-lr'] as string | undefined, 0),
            minDelta: nonNegativeFlag('min-delta', minDelta, 1e-4),
          },
    earlyStopping:
      esPatience === undefined
        ? false
        : {
            patience: intFlag('early-stopping-patience', esPatience, 0, 0),
            minDelta: nonNegativeFlag('min-delta', minDelta, 0),
            restoreBestWeights: Boolean(values['restore-best-weights']),
          },
    keep,
    onBadFile: values['skip-bad-files'] ? 'skip' : 'error',
    out,
  };
  if (resume) {
    // A resumed run keeps the options it was started with (they are in checkpoints/last); say so.
    const ignored = Object.keys(values).filter((k) => !['out', 'resume', 'epochs', 'json'].includes(k));
    if (ignored.length)
      process.stderr.write(
        `train --resume: using the checkpoint's options; ignoring --${ignored.join(', --')}\n`,
      );
  }
  const json = Boolean(values.json);
  const stream = json ? process.stderr : process.stdout;
  const print = (line: string) => stream.write(`${line}\n`);
  const started = Date.now();
  const result = await interruptible((signal) =>
    trainImageClassifier(options, { callbacks: [new ProgressBar({ stream })], signal, resume, print }),
  );
  return trainingReport(result, (Date.now() - started) / 1000, json);
}
