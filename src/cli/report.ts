import * as path from 'node:path';
import '../layers/lrn';
import { writeFileAtomic } from '../io/atomic';
import { loadModelFolder } from '../io/model_folder';
import { evaluateFolder } from '../report/evaluate_folder';
import { loadHistory } from '../report/history';
import { renderReport } from '../report/report';
import { intFlag, parse } from './args';
import { MODEL_DIR_FLAGS, modelDirFrom } from './model_dir';

const HELP = `usage: inception report --model-dir DIR | --model cifar10 [--data DIR] [--out FILE] [--samples-per-class 4]

Writes one HTML file (default DIR/report.html, which 'inception serve' shows at /report): training curves
from DIR/history.json or history.csv, and with --data (an image folder with the model's classes) the
confusion matrix, per-class accuracy and a grid of sample predictions marked right or wrong.`;

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    ...MODEL_DIR_FLAGS,
    data: { type: 'string' },
    out: { type: 'string' },
    'samples-per-class': { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dir = modelDirFrom(values);
  const { model, info } = await loadModelFolder(dir);
  const evaluation = values.data
    ? await evaluateFolder(model, info, values.data, {
        samplesPerClass: intFlag('samples-per-class', values['samples-per-class'], 4, 0),
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
