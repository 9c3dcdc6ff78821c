import { type EvaluationReport, evaluateModelFolder } from '../training/evaluate';
import { intFlag, parse, UsageError } from './args';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

const HELP = `usage: inception evaluate --model-dir DIR | --model cifar10 --data DIR [--batch-size N] [--skip-bad-files] [--json]

Evaluates the model folder on DIR/<class>/<images>; the class folders must be the model's labels
(labels.json). Images are resized and normalised as preprocessing.json says. Prints loss, top-1 and top-5
accuracy, a per-class table and the confusion matrix (rows: true class, columns: predicted).`;

/** The report as a table for people. */
export function formatEvaluation(r: EvaluationReport): string {
  const lines = [
    `model: ${r.modelDir}   data: ${r.dataDir}   images: ${r.images}${r.skipped ? ` (skipped ${r.skipped})` : ''}`,
    `loss: ${r.loss.toFixed(4)}   accuracy: ${r.accuracy.toFixed(4)}${r.top5 === null ? '' : `   top-5: ${r.top5.toFixed(4)}`}`,
    '',
  ];
  const nameWidth = Math.max(5, ...r.labels.map((l) => l.length));
  lines.push(`${'class'.padEnd(nameWidth)}  images  correct  accuracy`);
  for (const c of r.perClass) {
    lines.push(
      `${c.label.padEnd(nameWidth)}  ${String(c.images).padStart(6)}  ${String(c.correct).padStart(7)}  ${c.accuracy.toFixed(4).padStart(8)}`,
    );
  }
  lines.push('', 'confusion matrix (rows: true class, columns: predicted class)');
  const cell = Math.max(4, ...r.confusion.flat().map((v) => String(v).length + 1));
  const header = r.labels.map((l) => l.slice(0, cell - 1).padStart(cell)).join('');
  lines.push(`${''.padEnd(nameWidth)} ${header}`);
  r.confusion.forEach((row, i) => {
    lines.push(`${r.labels[i].padEnd(nameWidth)} ${row.map((v) => String(v).padStart(cell)).join('')}`);
  });
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    ...MODEL_DIR_FLAGS,
    data: { type: 'string' },
    'batch-size': { type: 'string' },
    'skip-bad-files': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const modelDir = modelDirFrom(values);
  if (!values.data) throw new UsageError('--data DIR is required');
  const report = await evaluateModelFolder(modelDir, values.data, {
    batchSize: intFlag('batch-size', values['batch-size'], 32),
    onBadFile: values['skip-bad-files'] ? 'skip' : 'error',
  });
  console.log(values.json ? JSON.stringify(report) : formatEvaluation(report));
  return 0;
}
