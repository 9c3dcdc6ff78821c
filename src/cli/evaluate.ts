import { folderPrecision } from '../quantize/precision';
import { EVALUATE_DEFAULTS, type EvaluationReport, evaluateModel } from '../training/evaluate';
import { defineCommand, parseCommandLine } from './flags';
import { loadModelFromFlags, MODEL_WEIGHTS_FLAGS } from './model_dir';
import { PRECISION_FLAGS } from './model_flags';

export const command = defineCommand({
  name: 'evaluate',
  usage:
    '--model-dir DIR | --model NAME [--weights NAME|FILE|DIR] --data DIR [--batch-size N] [--skip-bad-files] [--precision fp32|bf16|int8] [--json]',
  description:
    "Evaluates the model folder on DIR/<class>/<images>; the class folders must be the model's labels (labels.json). Images are resized and normalised as preprocessing.json says. Prints loss, top-1 and top-5 accuracy, a per-class table and the confusion matrix (rows: true class, columns: predicted).",
  flags: {
    ...MODEL_WEIGHTS_FLAGS,
    ...PRECISION_FLAGS,
    data: {
      type: 'string',
      metavar: 'DIR',
      required: true,
      group: 'data',
      help: "image folder with the model's class folders",
    },
    'batch-size': {
      type: 'int',
      default: EVALUATE_DEFAULTS.batchSize,
      group: 'data',
      help: 'images per batch',
    },
    'skip-bad-files': {
      type: 'boolean',
      group: 'data',
      help: 'skip undecodable images with a warning instead of stopping',
    },
    json: { type: 'boolean', help: 'print the report as one JSON document' },
  },
});

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
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values } = cmd;
  const { model, info, source } = await loadModelFromFlags(values);
  let report: EvaluationReport;
  try {
    report = await evaluateModel(model, info, source, values.data, {
      batchSize: values['batch-size'],
      onBadFile: values['skip-bad-files'] ? 'skip' : 'error',
      ...folderPrecision(info, cmd.given.has('precision') ? values.precision : undefined),
    });
  } finally {
    model.dispose();
  }
  console.log(values.json ? JSON.stringify(report) : formatEvaluation(report));
  return 0;
}
