import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { buildModel } from '../models/registry';
import { plotModelPng } from '../plot/png';
import { plotModelSvg } from '../plot/svg';
import { UsageError } from './args';
import { defineCommand, parseCommandLine } from './flags';
import { googlenetArgsFromFlags, MODEL_FLAGS } from './model_flags';

export const command = defineCommand({
  name: 'plot',
  usage:
    '[--model NAME] [--input-shape H,W,C | --input-size N] [--classes N] [--width X] --out FILE.svg|FILE.png [--json]',
  description:
    'Draws the architecture like Keras plot_model(show_shapes=True): one box per layer with its name, class and output shape, arrows for connections, each inception module framed with its four branches side by side (layout by dagre).',
  flags: {
    ...MODEL_FLAGS,
    out: {
      type: 'string',
      metavar: 'FILE.svg|FILE.png',
      required: true,
      help: 'the drawing; its extension picks the format: .svg (self-contained) or .png',
    },
    json: { type: 'boolean', help: 'print {"out", "format", "layers", "bytes"} as one JSON document' },
  },
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values } = cmd;
  const { out } = values;
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
