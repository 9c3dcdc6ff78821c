import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeDirAtomic } from '../io/atomic';
import { loadModelFolder } from '../io/model_folder';
import { pretrainedFolder } from '../models/pretrained';
import { type EvaluationReport, evaluateModelFolder } from '../training/evaluate';
import { predictImages } from '../training/predict';
import { ProgressBar } from '../training/progress_bar';
import { TimeBudget } from '../training/time_budget';
import { trainImageClassifier } from '../training/train_classifier';
import { formatEvaluation } from './evaluate';
import { defineCommand, parseCommandLine } from './flags';
import { interruptible } from './training_output';

/** The embedded sample, found from the package root (dist/src/cli → ../../..). */
export const SAMPLE_DIR = path.resolve(__dirname, '..', '..', '..', 'data', 'cifar10-sample');

/** Five CIFAR-10 images per class the shipped cifar10 model never trained on (data/README.md). */
export const HELD_OUT_DIR = path.resolve(__dirname, '..', '..', '..', 'data', 'cifar10-heldout');

/** What fits the time budget, by engine: the native onednn engine affords a wider net and more epochs. */
const DEMO_PLAN = {
  onednn: { width: 0.25, epochs: 30, batchSize: 32 },
  other: { width: 0.05, epochs: 3, batchSize: 16 },
};

const SAMPLE_PATH = path.relative(path.resolve(SAMPLE_DIR, '..', '..'), SAMPLE_DIR);

export const command = defineCommand({
  name: 'demo',
  usage: '[--out DIR] [--epochs N] [--width X] [--budget SECONDS]',
  description: `First a one-minute job: trains a narrow GoogLeNet (32x32 input) from scratch on ${SAMPLE_PATH}/train (400 CIFAR-10 images, 10 classes) with val/ for validation, within a time budget, and reports its validation accuracy; the model folder is replaced only when the demo succeeds. Then the shipped cifar10 model: evaluated on the embedded held-out images (data/cifar10-heldout, never trained on) and predicting a few of them next to their true labels; then where to go next.`,
  flags: {
    out: { type: 'string', metavar: 'DIR', default: path.join('runs', 'demo'), help: 'the model folder' },
    epochs: {
      type: 'int',
      defaultText: `${DEMO_PLAN.onednn.epochs} on the native onednn engine, ${DEMO_PLAN.other.epochs} on the plain tfjs ones`,
      help: 'most epochs to train',
    },
    width: {
      type: 'positive',
      defaultText: `${DEMO_PLAN.onednn.width} on onednn, ${DEMO_PLAN.other.width} on tfjs`,
      help: 'width multiplier of the network',
    },
    budget: { type: 'positive', metavar: 'SECONDS', default: 60, help: 'caps the training time' },
  },
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const plan = tf.getBackend() === 'onednn' ? DEMO_PLAN.onednn : DEMO_PLAN.other;
  const { out, budget } = cmd.values;
  const width = cmd.values.width ?? plan.width;
  const epochs = cmd.values.epochs ?? plan.epochs;
  const trainDir = path.join(SAMPLE_DIR, 'train');
  const valDir = path.join(SAMPLE_DIR, 'val');
  const print = (line: string) => console.log(line);
  console.log(
    `demo 1/2, a one-minute run to show the job: train GoogLeNet width ${width} at 32x32 from scratch on ${shortPath(trainDir)} (400 images; backend ${tf.getBackend()}), up to ${epochs} epochs or ${budget}s`,
  );
  const started = Date.now();
  await writeDirAtomic(out, async (tmp) => {
    const result = await interruptible((signal) =>
      trainImageClassifier(
        {
          data: trainDir,
          valData: valDir,
          model: 'googlenet',
          // A light dropout: the narrow net has few features to drop, and the demo trains briefly.
          modelArgs: { inputShape: [32, 32, 3], widthMultiplier: width, dropout: 0.2 },
          epochs,
          batchSize: plan.batchSize,
          optimizer: 'adam',
          learningRate: 3e-3,
          reduceLr: { patience: 3, factor: 0.5 },
          out: tmp,
        },
        { callbacks: [new ProgressBar(), new TimeBudget(budget, print)], signal, print },
      ),
    );
    if (result.interrupted) throw new Error(`interrupted; ${out} left as it was`);
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    const report = await evaluateModelFolder(tmp, valDir);
    const top5 = report.top5 === null ? '' : `, top-5 ${report.top5.toFixed(4)}`;
    console.log(
      [
        `\ntrained ${result.rows.length} epoch(s) in ${seconds}s; on ${shortPath(valDir)} (${report.images} images, chance ${(1 / report.labels.length).toFixed(2)}):`,
        `accuracy ${report.accuracy.toFixed(4)}${top5}. A minute on 400 images is far too little to learn CIFAR-10;`,
        'a model that is right needs the full dataset and hours: the shipped one, next.',
      ].join('\n'),
    );
  });
  console.log(
    `\ndemo 2/2, a trained model: the shipped cifar10 model (trained for about two hours on 45,000 CIFAR-10 images)`,
  );
  await showShippedModel(print);
  console.log(nextSteps(out));
  return 0;
}

/** How many held-out images the demo shows one by one (the first of each class, in class order). */
const SHOWN_PREDICTIONS = 10;

/**
 * The shipped cifar10 model on the embedded held-out images (never trained on): its evaluation, then a few
 * predictions beside their true labels. Returns the evaluation.
 */
export async function showShippedModel(print: (line: string) => void): Promise<EvaluationReport> {
  const modelDir = pretrainedFolder('cifar10');
  const report = await evaluateModelFolder(modelDir, HELD_OUT_DIR);
  print(formatEvaluation({ ...report, modelDir: 'cifar10 (shipped)', dataDir: shortPath(HELD_OUT_DIR) }));
  const classes = (await fs.readdir(HELD_OUT_DIR)).sort().slice(0, SHOWN_PREDICTIONS);
  const images = await Promise.all(
    classes.map(async (label) => {
      const [first] = (await fs.readdir(path.join(HELD_OUT_DIR, label))).sort();
      return { label, file: path.join(HELD_OUT_DIR, label, first) };
    }),
  );
  const { model, info } = await loadModelFolder(modelDir);
  try {
    const predictions = await predictImages(
      model,
      info,
      images.map((i) => i.file),
      1,
    );
    const fileWidth = Math.max(...images.map((i) => shortPath(i.file).length));
    const labelWidth = Math.max(...info.labels.map((l) => l.length));
    print('\npredictions, the first held-out image of each class (true class = folder name):');
    predictions.forEach((p, i) => {
      const [best] = p.top;
      const mark = best.label === images[i].label ? 'right' : 'WRONG';
      print(
        `  ${shortPath(p.file).padEnd(fileWidth)}  true ${images[i].label.padEnd(labelWidth)}  predicted ${best.label.padEnd(labelWidth)} ${best.probability.toFixed(4)}  ${mark}`,
      );
    });
  } finally {
    model.dispose();
  }
  return report;
}

/** Commands to try after the demo, one per line with what each does; `out` is the demo's model folder. */
function nextSteps(out: string): string {
  const next: [string, string][] = [
    ['npx inception predict --model cifar10 IMAGE.jpg', 'classify your own images with the shipped model'],
    ['npx inception evaluate --model cifar10 --data DIR', 'score it on a folder of class sub-folders'],
    ['npx inception train --data DIR --out runs/mine', 'train on your own images (one sub-folder per class)'],
    ['npx inception serve --model cifar10', 'HTTP service and browser page at http://127.0.0.1:8080/'],
    [`npx inception predict --model-dir ${out} IMAGE.jpg`, 'the one-minute model of step 1'],
    ['npx inception COMMAND --help', 'every command and its flags'],
  ];
  const width = Math.max(...next.map(([command]) => command.length));
  return [
    '\nwhere to go next:',
    ...next.map(([command, what]) => `  ${command.padEnd(width)}  ${what}`),
    'how the shipped model was trained, and its metrics: models/cifar10/README.md',
  ].join('\n');
}

/** `file` relative to the working directory when that is shorter (the demo's lines stay readable). */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.length < file.length ? relative : file;
}
