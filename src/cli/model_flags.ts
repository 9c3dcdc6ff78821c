import type { GoogLeNetArgs } from '../models/googlenet';
import { DEFAULT_INPUT_SHAPES } from '../models/registry';
import { intFlag, nonNegativeFlag, numberFlag, type Options, shapeFlag, UsageError } from './args';

/** The flags every command that builds a network shares. */
export const MODEL_FLAGS: Options = {
  model: { type: 'string' },
  'input-shape': { type: 'string' },
  'input-size': { type: 'string' },
  classes: { type: 'string' },
  width: { type: 'string' },
  dropout: { type: 'string' },
  'stem-pool': { type: 'boolean' },
};

/** Turns --model/--input-shape/--input-size/--classes/--width/--dropout into a builder name and its arguments. */
export function googlenetArgsFromFlags(values: Record<string, unknown>): {
  model: string;
  args: GoogLeNetArgs & { stemPool?: boolean };
} {
  const model = (values.model as string | undefined) ?? 'googlenet';
  const size = values['input-size'] as string | undefined;
  const fromSize: [number, number, number] | undefined =
    size === undefined ? undefined : [intFlag('input-size', size, 224), intFlag('input-size', size, 224), 3];
  const inputShape = shapeFlag(
    'input-shape',
    values['input-shape'] as string | undefined,
    fromSize ?? DEFAULT_INPUT_SHAPES[model] ?? [224, 224, 3],
  );
  const dropout = values.dropout as string | undefined;
  if (values['stem-pool'] && model !== 'googlenet-cifar') {
    throw new UsageError(`--stem-pool applies to --model googlenet-cifar, not ${model}`);
  }
  return {
    model,
    args: {
      ...(values['stem-pool'] ? { stemPool: true } : {}),
      inputShape,
      numClasses: intFlag('classes', values.classes as string | undefined, 10, 2),
      widthMultiplier: numberFlag('width', values.width as string | undefined, 1),
      // Absent: the builder's own default (0.5; googlenet-paper 0.4, googlenet-cifar 0.2).
      dropout: dropout === undefined ? undefined : nonNegativeFlag('dropout', dropout, 0.5, 1),
    },
  };
}

/** The model flags of a command that takes the class count from its data (train): all but --classes. */
export const MODEL_FLAGS_NO_CLASSES: Options = Object.fromEntries(
  Object.entries(MODEL_FLAGS).filter(([name]) => name !== 'classes'),
);

/** Help text for the model flags, shared by the commands that build a network. */
export const MODEL_FLAGS_HELP = `  --model NAME          network builder (default googlenet)
  --width X             width multiplier: scales every filter count (default 1)
  --input-size N        input N x N x 3 (default 224)
  --input-shape H,W,C   input shape, instead of --input-size
  --dropout X           dropout rate before the classifier (default: the builder's, 0.5; googlenet-paper
                        0.4, googlenet-cifar 0.2)
  --stem-pool           googlenet-cifar: 3x3/2 max pool after the stem (inception stages at 16, 8, 4;
                        4x less compute)`;
