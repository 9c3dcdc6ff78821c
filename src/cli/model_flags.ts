import { PRECISIONS } from '../backend/plan_spec';
import { defaultInputShape, GOOGLENET_DEFAULTS, type GoogLeNetArgs } from '../models/googlenet';
import { CIFAR_DROPOUT } from '../models/googlenet_cifar';
import { PAPER_DROPOUT } from '../models/googlenet_paper';
import { DEFAULT_INPUT_SHAPES, DEFAULT_MODEL, MODEL_BUILDERS } from '../models/registry';
import { UsageError } from './args';
import { defineFlags, type FlagValues } from './flags';

const defaultSizes = Object.entries(DEFAULT_INPUT_SHAPES)
  .map(([model, [size]]) => `; ${model} ${size}`)
  .join('');

/** The flags of the commands that build a network from a builder (summary, plot; train without --classes). */
export const MODEL_FLAGS = defineFlags({
  model: {
    type: 'choice',
    choices: Object.keys(MODEL_BUILDERS),
    default: DEFAULT_MODEL,
    metavar: 'NAME',
    group: 'model',
    help: `network builder: ${Object.keys(MODEL_BUILDERS).join(', ')}`,
  },
  width: {
    type: 'positive',
    default: GOOGLENET_DEFAULTS.widthMultiplier,
    group: 'model',
    help: 'width multiplier: scales every filter count',
  },
  'input-size': {
    type: 'int',
    group: 'model',
    defaultText: `${GOOGLENET_DEFAULTS.inputShape[0]}${defaultSizes}`,
    help: 'input N x N x 3',
  },
  'input-shape': { type: 'shape', group: 'model', help: 'input shape, instead of --input-size' },
  classes: {
    type: 'int',
    min: 2,
    default: GOOGLENET_DEFAULTS.numClasses,
    group: 'model',
    help: 'number of classes (output units)',
  },
  dropout: {
    type: 'non-negative',
    below: 1,
    group: 'model',
    defaultText: `the builder's, ${GOOGLENET_DEFAULTS.dropout}; googlenet-paper ${PAPER_DROPOUT}, googlenet-cifar ${CIFAR_DROPOUT}`,
    help: 'dropout rate before the classifier',
  },
  'stem-pool': {
    type: 'boolean',
    group: 'model',
    help: 'googlenet-cifar: 3x3/2 max pool after the stem (inception stages at 16, 8, 4; 4x less compute)',
  },
});

/** The inference commands' engine precision (predict, evaluate, serve, report). */
export const PRECISION_FLAGS = defineFlags({
  precision: {
    type: 'choice',
    choices: PRECISIONS,
    defaultText: 'int8 for a quantized model folder (inception quantize), else fp32',
    group: 'engine',
    help: "arithmetic of the planned oneDNN path: bf16 needs AVX512_BF16 or AMX, int8 a model folder from 'inception quantize'",
  },
});

/** The model flags of a command that takes the class count from its data (train): all but --classes. */
const { classes: _, ...flagsWithoutClasses } = MODEL_FLAGS;
export const MODEL_FLAGS_NO_CLASSES = flagsWithoutClasses;

/** The builder name and its arguments from the parsed model flags (--classes optional: train has none). */
export function googlenetArgsFromFlags(
  values: Omit<FlagValues<typeof MODEL_FLAGS>, 'classes'> & { classes?: number },
): { model: string; args: GoogLeNetArgs & { stemPool?: boolean } } {
  const { model } = values;
  const size = values['input-size'];
  if (size !== undefined && values['input-shape'] !== undefined) {
    throw new UsageError('give either --input-size or --input-shape, not both');
  }
  const inputShape =
    values['input-shape'] ??
    (size === undefined ? undefined : ([size, size, 3] as [number, number, number])) ??
    DEFAULT_INPUT_SHAPES[model] ??
    defaultInputShape();
  if (values['stem-pool'] && model !== 'googlenet-cifar') {
    throw new UsageError(`--stem-pool applies to --model googlenet-cifar, not ${model}`);
  }
  return {
    model,
    args: {
      ...(values['stem-pool'] ? { stemPool: true } : {}),
      inputShape,
      ...(values.classes === undefined ? {} : { numClasses: values.classes }),
      widthMultiplier: values.width,
      // Absent: the builder's own default.
      dropout: values.dropout,
    },
  };
}
