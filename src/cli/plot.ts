import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { buildModel } from '../models/registry';
import { plotModelPng } from '../plot/png';
import { plotModelSvg } from '../plot/svg';
import { parse, UsageError } from './args';
import { googlenetArgsFromFlags, MODEL_FLAGS } from './model_flags';

const HELP = `usage: inception plot [--model NAME] [--input-shape 224,224,3] [--classes 10] [--width X] --out FILE.svg|FILE.png [--json]

Draws the architecture like Keras plot_model(show_shapes=True): one box per layer with its name, class and
output shape, arrows for connections, each inception module framed with its four branches side by side
(layout by dagre). The format follows the extension of --out: .svg (self-contained) or .png.
--json prints {"out", "format", "layers", "bytes"} as one JSON document.`;

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, { ...MODEL_FLAGS, out: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('--out FILE.svg or FILE.png is required');
  const format = path.extname(out).toLowerCase().slice(1);
  if (format !== 'svg' && format !== 'png') {
    throw new UsageError(`--out must end in .svg or .png, got ${JSON.stringify(out)}`);
  }
  const { model: name, args } = googlenetArgsFromFlags(values);
  const model = buildModel(name, args);
  const data = format === 'svg' ? plotModelSvg(model) : await plotModelPng(model);
  await writeFileAtomic(out, data);
  const report = { out, format, layers: model.layers.length, bytes: Buffer.byteLength(data) };
  model.dispose();
  console.log(
    values.json ? JSON.stringify(report) : `wrote ${out} (${report.layers} layers, ${report.bytes} bytes)`,
  );
  return 0;
}
