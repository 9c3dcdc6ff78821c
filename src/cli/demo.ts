import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModelFolder } from '../io/model_folder';
import { writeDirAtomic } from '../training/atomic_dir';
import { evaluateModelFolder } from '../training/evaluate';
import { predictImages } from '../training/predict';
import { ProgressBar } from '../training/progress_bar';
import { TimeBudget } from '../training/time_budget';
import { trainImageClassifier } from '../training/train_classifier';
import { formatEvaluation } from './evaluate';
import { defineCommand, parseCommandLine } from './flags';
import { formatPredictions } from './predict';
import { interruptible } from './training_output';

/** The embedded sample, found from the package root (dist/src/cli → ../../..). */
export const SAMPLE_DIR = path.resolve(__dirname, '..', '..', '..', 'data', 'cifar10-sample');

/** What fits the time budget, by engine: the native onednn engine affords a wider net and more epochs. */
const DEMO_PLAN = {
  onednn: { width: 0.25, epochs: 30, batchSize: 32 },
  other: { width: 0.05, epochs: 3, batchSize: 16 },
};

const SAMPLE_PATH = path.relative(path.resolve(SAMPLE_DIR, '..', '..'), SAMPLE_DIR);

export const command = defineCommand({
  name: 'demo',
  summary: 'train a narrow GoogLeNet on the embedded CIFAR-10 sample, evaluate it, predict',
  usage: '[--out DIR] [--epochs N] [--width X] [--budget SECONDS]',
  description: `The Quick start's main job: trains a narrow GoogLeNet (32x32 input) on ${SAMPLE_PATH}/train (400 CIFAR-10 images, 10 classes) with val/ for validation, within a time budget; then evaluates the model on val/, predicts a few val images and prints where the model folder is. The folder is replaced only when the demo succeeds.`,
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

export const summary = command.summary;

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
    `demo: GoogLeNet width ${width} at 32x32 on ${trainDir} (backend ${tf.getBackend()}), up to ${epochs} epochs or ${budget}s`,
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
    console.log(
      `\ntrained ${result.rows.length} epoch(s) in ${((Date.now() - started) / 1000).toFixed(0)}s\n`,
    );
    console.log(formatEvaluation({ ...(await evaluateModelFolder(tmp, valDir)), modelDir: out }));
    const classes = (await fs.readdir(valDir)).sort().slice(0, 4);
    const images = classes.map((c) => path.join(valDir, c, '0000.jpg'));
    const { model, info } = await loadModelFolder(tmp);
    try {
      console.log(
        `\npredictions (the folder name is the true class):\n${formatPredictions(await predictImages(model, info, images, 3))}`,
      );
    } finally {
      model.dispose();
    }
  });
  console.log(`\nmodel folder: ${out} (try: npx inception predict --model-dir ${out} IMAGE.jpg)`);
  return 0;
}
