import type * as tf from '@tensorflow/tfjs';
import { extractFeatures, featureModel, listImages, writeFeatures } from '../inference/features';
import { loadModelFolder, type Preprocessing } from '../io/model_folder';
import { buildModel, MODEL_BUILDERS } from '../models/registry';
import { weightsArchitecture, weightsFixedArgs } from '../training/weights_architecture';
import { loadWeights, weightsMeta } from '../weights/load';
import { UsageError } from './args';
import { defineCommand, type FlagValues, parseCommandLine } from './flags';

export const command = defineCommand({
  name: 'features',
  usage:
    '(--weights SPEC [--model NAME] [--width X] [--input-size N] [--pooling avg|max] | --model-dir DIR) --out FILE.csv|FILE.npy [--batch-size N] DATA_DIR',
  description:
    "Writes one embedding per image of DATA_DIR (a class-folder tree DIR/<class>/<image>, the class being the label, or a flat folder of images, unlabelled): the network's body, without its classifier, pooled to one vector (Keras include_top=False, pooling='avg'). Images are normalised as the weights' (or the model folder's) preprocessing says.",
  flags: {
    weights: {
      type: 'string',
      metavar: 'SPEC',
      group: 'model',
      help: 'the weights: a shipped model (cifar10), a model folder, a registry name or a weights file; they fix --model, --width and the input size unless given',
    },
    model: {
      type: 'choice',
      choices: Object.keys(MODEL_BUILDERS),
      metavar: 'NAME',
      group: 'model',
      defaultText: "the weights' builder",
      help: `network builder: ${Object.keys(MODEL_BUILDERS).join(', ')}`,
    },
    width: { type: 'positive', group: 'model', defaultText: "the weights'", help: 'width multiplier' },
    'input-size': { type: 'int', group: 'model', defaultText: "the weights'", help: 'input N x N x 3' },
    pooling: {
      type: 'choice',
      choices: ['avg', 'max'],
      default: 'avg',
      group: 'model',
      help: "global pool of the last stage's feature map (with --weights; a model folder keeps its own)",
    },
    'model-dir': {
      type: 'string',
      metavar: 'DIR',
      group: 'model',
      help: 'a trained model folder instead: the features its classifier reads',
    },
    out: {
      type: 'string',
      metavar: 'FILE',
      required: true,
      help: '.csv: path,label,f0..fN-1 rows; .npy: a float32 [images, dims] NumPy array plus FILE.index.csv (row,path,label)',
    },
    'batch-size': { type: 'int', default: 32, help: 'images per forward pass' },
    json: { type: 'boolean', help: 'print {"out", "images", "dims"} as one JSON document' },
  },
  positionals: { metavar: 'DATA_DIR', help: 'the image folder', min: 1 },
});

/** The extractor and its preprocessing from --weights (a headless pooled builder) or from --model-dir. */
async function extractor(
  values: FlagValues<typeof command.flags>,
  given: ReadonlySet<string>,
): Promise<{ model: tf.LayersModel; preprocessing: Preprocessing }> {
  const dir = values['model-dir'];
  const spec = values.weights;
  if (dir !== undefined) {
    const extra = ['weights', 'model', 'width', 'input-size', 'pooling'].find((k) => given.has(k));
    if (extra) throw new UsageError(`--${extra} goes with --weights, not --model-dir (the folder fixes it)`);
    const { model, info } = await loadModelFolder(dir);
    return { model: featureModel(model), preprocessing: info.preprocessing };
  }
  if (spec === undefined) {
    throw new UsageError('give --weights SPEC or --model-dir DIR (random weights make meaningless features)');
  }
  const fixed = weightsArchitecture(spec);
  const builder = values.model ?? fixed.model;
  if (!builder)
    throw new UsageError(`--weights ${spec} does not say which network it fits; give --model NAME`);
  let meta: ReturnType<typeof weightsMeta>;
  try {
    meta = weightsMeta(builder, spec);
  } catch (e) {
    throw new UsageError(`--weights: ${(e as Error).message}`);
  }
  const size = values['input-size'];
  const inputShape =
    size !== undefined ? ([size, size, 3] as [number, number, number]) : meta?.preprocessing.inputShape;
  const model = buildModel(builder, {
    ...weightsFixedArgs(builder, spec, fixed),
    ...(values.width !== undefined ? { widthMultiplier: values.width } : {}),
    ...(inputShape ? { inputShape } : {}),
    includeTop: false,
    pooling: values.pooling,
  });
  // Not strict: the model is built without the classifier the weights may carry.
  const loaded = await loadWeights(model, builder, spec, { strict: false });
  const from = loaded ?? meta;
  if (!from) throw new Error(`weights ${spec}: no preprocessing travels with them`);
  return {
    model,
    preprocessing: {
      ...from.preprocessing,
      inputShape: model.inputs[0].shape.slice(1) as [number, number, number],
    },
  };
}

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { values, given, positionals } = cmd;
  if (positionals.length !== 1) throw new UsageError(`give one DATA_DIR, got ${positionals.length}`);
  const out = values.out;
  if (!/\.(csv|npy)$/i.test(out))
    throw new UsageError(`--out must end in .csv or .npy, got ${JSON.stringify(out)}`);
  const images = await listImages(positionals[0]);
  const { model, preprocessing } = await extractor(values, given);
  try {
    const features = await extractFeatures(model, preprocessing, images.files, {
      batchSize: values['batch-size'],
    });
    const written = await writeFeatures(out, images, features);
    const summary = { out: written, images: images.files.length, dims: features.dims };
    console.log(
      values.json
        ? JSON.stringify(summary)
        : `${summary.images} embeddings of ${summary.dims} values written to ${written.join(' and ')}`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}
