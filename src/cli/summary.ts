import { buildModel } from '../models/registry';
import { formatSummary, modelSummary } from '../models/summary';
import { parse } from './args';
import { googlenetArgsFromFlags, MODEL_FLAGS } from './model_flags';

const HELP = `usage: inception summary [--model NAME] [--input-shape 224,224,3] [--classes 10] [--width X] [--json]

Prints the Keras functional-model summary (Layer (type) | Output Shape | Param # | Connected to) and the
parameter totals. --json prints the same as one JSON document.`;

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, { ...MODEL_FLAGS, json: { type: 'boolean' } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const { model: name, args } = googlenetArgsFromFlags(values);
  const model = buildModel(name, args);
  const data = modelSummary(model);
  console.log(values.json ? JSON.stringify(data) : formatSummary(data));
  model.dispose();
  return 0;
}
