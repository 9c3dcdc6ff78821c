import { buildModel } from '../models/registry';
import { formatSummary, modelSummary } from '../models/summary';
import { defineCommand, parseCommandLine } from './flags';
import { googlenetArgsFromFlags, MODEL_FLAGS } from './model_flags';

export const command = defineCommand({
  name: 'summary',
  usage: '[--model NAME] [--input-shape H,W,C | --input-size N] [--classes N] [--width X] [--json]',
  description:
    'Prints the Keras functional-model summary (Layer (type) | Output Shape | Param # | Connected to) and the parameter totals.',
  flags: {
    ...MODEL_FLAGS,
    json: { type: 'boolean', help: 'print the same as one JSON document' },
  },
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { model: name, args } = googlenetArgsFromFlags(cmd.values);
  const model = buildModel(name, args);
  const data = modelSummary(model);
  console.log(cmd.values.json ? JSON.stringify(data) : formatSummary(data));
  model.dispose();
  return 0;
}
