import * as tf from '@tensorflow/tfjs';
import { lrn, PAPER_LRN } from '../layers/lrn';
import { ceilModeMaxPool, symmetricPadConvRelu } from './explicit_padding';
import {
  type BodyOptions,
  denseLayer,
  dropoutDense,
  featurePool,
  type GoogLeNetArgs,
  googlenetBody,
  type ResolvedArgs,
  resolveArgs,
  scaleFilters,
} from './googlenet';
import { type ConvBlock, convRelu } from './inception_module';

export interface GoogLeNetPaperArgs extends GoogLeNetArgs {
  /**
   * Add the two auxiliary classifiers (after inception_4a and inception_4d) and return the 3-output
   * training model [output, aux_1_output, aux_2_output]. Train it with `compileWithAuxLosses`; use
   * `inferenceModel(model)` for evaluation, prediction and export. Default false: the single-output network.
   */
  auxClassifiers?: boolean;
  /**
   * Caffe's padding, as in bvlc_googlenet and the ONNX model zoo's GoogLeNet (whose weights
   * `loadOnnxGoogLeNetWeights` loads): the 7x7/2 convolution pads 3 on every side and the stride-2 max
   * pools run in ceil mode. Same layers, names and parameters, plus a ZeroPadding2D `conv_1_7x7_2_pad`
   * (and `*_pad` before a pool whose map has odd height and even width or the reverse). Default false:
   * Keras `same` padding everywhere (docs/models.md, "Differences from the paper").
   */
  caffe?: boolean;
}

/** The paper's dropout before the main classifier (the auxiliary heads use AUX_DROPOUT). */
export const PAPER_DROPOUT = 0.4;
export const AUX_DROPOUT = 0.7;
/** Weight of each auxiliary loss in the training loss (paper: "weighted by 0.3"). */
export const AUX_LOSS_WEIGHT = 0.3;
/** Output layer names of the training model, in order. */
export const AUX_OUTPUTS = ['aux_1_output', 'aux_2_output'] as const;
const AUX_TAPS: Record<string, string> = { inception_4a: 'aux_1_', inception_4d: 'aux_2_' };

/**
 * An auxiliary classifier (paper, section 5): 5x5/3 average pool (valid), 1x1 conv 128 + ReLU, FC 1024 +
 * ReLU, dropout 0.7, linear + softmax. 4a/4d are 14x14 at 224 input, pooled to 4x4; on maps smaller than
 * 5x5 (inputs under 80) the pool covers the whole map instead.
 */
function auxClassifier(
  x: tf.SymbolicTensor,
  a: ResolvedArgs,
  prefix: string,
  conv: ConvBlock,
): tf.SymbolicTensor {
  const [, h, w] = x.shape as number[];
  x = tf.layers
    .averagePooling2d({
      poolSize: [Math.min(5, h), Math.min(5, w)],
      strides: 3,
      padding: 'valid',
      name: `${prefix}avg_pool_5x5_3`,
    })
    .apply(x) as tf.SymbolicTensor;
  x = conv(x, scaleFilters(128, a.widthMultiplier), 1, `${prefix}conv_1x1`, 1, a.seeds);
  x = tf.layers.flatten({ name: `${prefix}flatten` }).apply(x) as tf.SymbolicTensor;
  x = denseLayer(a.seeds, {
    units: scaleFilters(1024, a.widthMultiplier),
    activation: 'relu',
    name: `${prefix}fc`,
  }).apply(x) as tf.SymbolicTensor;
  return dropoutDense(x, a, AUX_DROPOUT, prefix);
}

/**
 * The paper's final pool: 7x7/1 average pool (valid) + flatten on the 7x7 map of a 224 input, which is
 * exactly a global average pool there; at any other input size a global average pool, so that the
 * classifier keeps 1024 inputs.
 */
function finalPool(x: tf.SymbolicTensor): tf.SymbolicTensor {
  const [, h, w] = x.shape as number[];
  if (h !== 7 || w !== 7) {
    return tf.layers.globalAveragePooling2d({ name: 'avg_pool_5_global' }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers
    .averagePooling2d({ poolSize: 7, strides: 1, padding: 'valid', name: 'avg_pool_5_7x7_1' })
    .apply(x) as tf.SymbolicTensor;
  return tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
}

/** Body options of `caffe: true`: Caffe's symmetric conv padding and ceil-mode 3x3/2 max pools. */
const CAFFE_PADDING: BodyOptions = {
  conv: symmetricPadConvRelu,
  pool: (x, name) => ceilModeMaxPool(x, 3, 2, name),
};

/**
 * GoogLeNet as published (Szegedy et al. 2014, Table 1 and section 5; Caffe's bvlc_googlenet):
 * 7x7/2 conv 64, 3x3/2 max pool, LRN, 1x1 conv 64, 3x3 conv 192, LRN, 3x3/2 max pool, inception 3a-3b,
 * max pool, 4a-4e, max pool, 5a-5b, 7x7/1 average pool, dropout 0.4, linear + softmax; with
 * `auxClassifiers: true`, the training model with the two auxiliary heads as extra outputs; with
 * `caffe: true`, Caffe's padding arithmetic (exactly bvlc_googlenet at every input size).
 * Differences from the paper are listed in the README ("Differences from the paper").
 */
export function googlenetPaper(args: GoogLeNetPaperArgs = {}): tf.LayersModel {
  const a = resolveArgs('googlenet-paper', { ...args, dropout: args.dropout ?? PAPER_DROPOUT });
  const withAux = args.auxClassifiers ?? false;
  if (typeof withAux !== 'boolean') {
    throw new Error(`googlenet-paper: auxClassifiers must be a boolean, got ${JSON.stringify(withAux)}`);
  }
  const caffe = args.caffe ?? false;
  if (typeof caffe !== 'boolean') {
    throw new Error(`googlenet-paper: caffe must be a boolean, got ${JSON.stringify(caffe)}`);
  }
  if (withAux && !a.includeTop) {
    throw new Error('googlenet-paper: auxClassifiers needs includeTop (the auxiliary heads are classifiers)');
  }
  const input = tf.input({ shape: a.inputShape, name: 'input' }); // 224x224x3
  const aux: tf.SymbolicTensor[] = [];
  const x = googlenetBody(input, a.widthMultiplier, {
    norm: (t, name) => lrn({ ...PAPER_LRN, name }).apply(t) as tf.SymbolicTensor,
    seeds: a.seeds,
    ...(caffe ? CAFFE_PADDING : {}),
    onModule: (name, t) => {
      if (withAux && AUX_TAPS[name]) aux.push(auxClassifier(t, a, AUX_TAPS[name], convRelu));
    },
  }); // 7x7x1024
  const output = a.includeTop
    ? dropoutDense(finalPool(x), a, a.dropout) // 1024 → numClasses
    : featurePool(x, a.pooling, 'avg_pool_5_global');
  return tf.model({
    inputs: input,
    outputs: withAux ? [output, ...aux] : output,
    name: withAux ? 'googlenet_paper_training' : 'googlenet_paper',
  });
}

/**
 * The single-output network inside a training model with auxiliary heads: same layers, same weight
 * variables (training the one trains the other), without the auxiliary classifiers. Use it for
 * evaluation, prediction, saving for deployment and export. A single-output model is returned as is.
 */
export function inferenceModel(model: tf.LayersModel): tf.LayersModel {
  if (model.outputs.length === 1) return model;
  const main = model.outputs.filter((t) => !(AUX_OUTPUTS as readonly string[]).includes(t.sourceLayer.name));
  if (main.length !== 1) {
    throw new Error(
      `inferenceModel: expected one output besides ${AUX_OUTPUTS.join(', ')}, got ${model.outputNames.join(', ')}`,
    );
  }
  return tf.model({ inputs: model.inputs, outputs: main[0], name: model.name.replace(/_training$/, '') });
}

export interface AuxCompileArgs {
  optimizer: string | tf.Optimizer;
  /** Loss of every head. Default 'categoricalCrossentropy'. */
  loss?: string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);
  /** Weight of each auxiliary loss. Default 0.3 (the paper's). */
  auxWeight?: number;
  metrics?: string[];
}

/**
 * Compiles a training model so that its loss is `main + 0.3 * aux_1 + 0.3 * aux_2` (Keras
 * `loss_weights=[1, 0.3, 0.3]`; tfjs has no `lossWeights`, so each auxiliary loss function is scaled).
 * `fit` then takes one target per output: `model.fit(x, [y, y, y])`. The per-output losses tfjs reports
 * (`aux_1_output_loss`, ...) are the weighted ones. Metrics apply to the main output only. Evaluate with
 * `inferenceModel(model).evaluate(...)`: tfjs 4.22's `evaluate()` on a multi-output model returns running
 * sums of the per-output losses instead of the total (its `fit`/`trainOnBatch` total is right).
 */
export function compileWithAuxLosses(model: tf.LayersModel, args: AuxCompileArgs): void {
  const auxWeight = args.auxWeight ?? AUX_LOSS_WEIGHT;
  if (!(typeof auxWeight === 'number' && Number.isFinite(auxWeight) && auxWeight >= 0)) {
    throw new Error(
      `compileWithAuxLosses: auxWeight must be a number >= 0, got ${JSON.stringify(auxWeight)}`,
    );
  }
  const base = args.loss ?? 'categoricalCrossentropy';
  // tf.metrics holds the per-example Keras losses by their camelCase names (tf.losses reduces).
  const lossFn = typeof base === 'function' ? base : (tf.metrics as any)[base];
  if (typeof lossFn !== 'function') {
    throw new Error(`compileWithAuxLosses: unknown loss ${JSON.stringify(base)}`);
  }
  const loss: Record<string, any> = {};
  for (const name of model.outputNames) {
    if ((AUX_OUTPUTS as readonly string[]).includes(name)) {
      loss[name] = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.mul(lossFn(yTrue, yPred), auxWeight);
    } else {
      loss[name] = base;
    }
  }
  // tfjs accepts a list of metrics per output name at runtime; its typings only admit one.
  const main = model.outputNames.find((n) => !(AUX_OUTPUTS as readonly string[]).includes(n))!;
  const metrics = args.metrics ? ({ [main]: args.metrics } as any) : undefined;
  model.compile({ optimizer: args.optimizer, loss, metrics });
}
