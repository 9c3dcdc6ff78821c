import * as path from 'node:path';
import { folderPrecision } from '../quantize/precision';
import '../layers/lrn';
import { writeFileAtomic } from '../io/atomic';
import { loadModelFolder } from '../io/model_folder';
import { EVALUATE_FOLDER_DEFAULTS, evaluateFolder } from '../report/evaluate_folder';
import { loadHistory } from '../report/history';
import { renderReport } from '../report/report';
import { defineCommand, parseCommandLine } from './flags';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';
import { PRECISION_FLAGS } from './model_flags';

export const command = defineCommand({
  name: 'report',
  usage:
    '--model-dir DIR | --model NAME [--data DIR] [--out FILE] [--samples-per-class N] [--precision fp32|bf16|int8]',
  description:
    "Writes one HTML file: training curves from DIR/history.json or history.csv, and with --data (an image folder with the model's classes) the confusion matrix, per-class accuracy and a grid of sample predictions marked right or wrong.",
  flags: {
    ...MODEL_DIR_FLAGS,
    ...PRECISION_FLAGS,
    data: {
      type: 'string',
      metavar: 'DIR',
      group: 'report',
      help: "image folder with the model's classes to evaluate on",
    },
    out: {
      type: 'string',
      metavar: 'FILE',
      defaultText: "DIR/report.html, which 'inception serve' shows at /report",
      group: 'report',
      help: 'the HTML file',
    },
    'samples-per-class': {
      type: 'int',
      min: 0,
      default: EVALUATE_FOLDER_DEFAULTS.samplesPerClass,
      group: 'report',
      help: 'sample predictions shown per class (with --data)',
    },
  },
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values } = cmd;
  const dir = modelDirFrom(values);
  const { model, info } = await loadModelFolder(dir);
  const evaluation = values.data
    ? await evaluateFolder(model, info, values.data, {
        samplesPerClass: values['samples-per-class'],
        ...folderPrecision(info, cmd.given.has('precision') ? values.precision : undefined),
        onProgress: (done, total) => process.stderr.write(`\revaluating ${done}/${total}`),
      })
    : null;
  if (evaluation) process.stderr.write('\n');
  const html = renderReport({
    info,
    history: await loadHistory(dir),
    evaluation,
    modelName: model.name,
    parameters: model.countParams(),
  });
  const out = values.out ?? path.join(dir, 'report.html');
  await writeFileAtomic(out, html);
  const acc = evaluation
    ? `, accuracy ${((evaluation.correct / evaluation.total) * 100).toFixed(2)}% on ${evaluation.total} images`
    : '';
  console.log(`wrote ${out} (${html.length} bytes${acc})`);
  model.dispose();
  return 0;
}
