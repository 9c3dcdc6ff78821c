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
import { intFlag, numberFlag, parse } from './args';
import { formatEvaluation } from './evaluate';
import { formatPredictions } from './predict';
import { interruptible } from './training_output';

/** The embedded sample, found from the package root (dist/src/cli → ../../..). */
export const SAMPLE_DIR = path.resolve(__dirname, '..', '..', '..', 'data', 'cifar10-sample');

const HELP = `usage: inception demo [--out DIR] [--epochs N] [--width X] [--budget SECONDS]

The Quick start's main job: trains a narrow GoogLeNet (32x32 input) on ${path.relative(process.cwd(), SAMPLE_DIR) || SAMPLE_DIR}/train
(400 CIFAR-10 images, 10 classes) with val/ for validation, within a time budget; then evaluates the model
on val/, predicts a few val images and prints where the model folder is. The folder (default runs/demo)
is replaced only when the demo succeeds.

Defaults adapt to the engine: on the native onednn backend width 0.25 and up to 30 epochs; on the plain
tfjs cpu backend width 0.05 and up to 3 epochs. --budget (default 60) caps the training time.`;

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    out: { type: 'string' },
    epochs: { type: 'string' },
    width: { type: 'string' },
    budget: { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const fast = tf.getBackend() === 'onednn';
  const out = (values.out as string | undefined) ?? path.join('runs', 'demo');
  const width = numberFlag('width', values.width, fast ? 0.25 : 0.05);
  const epochs = intFlag('epochs', values.epochs, fast ? 30 : 3);
  const budget = numberFlag('budget', values.budget, 60);
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
          batchSize: fast ? 32 : 16,
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
