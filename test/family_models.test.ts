import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommandLine } from '../src/cli/flags';
import { googlenetArgsFromFlags } from '../src/cli/model_flags';
import { command as summaryCommand } from '../src/cli/summary';
import {
  buildModel,
  googlenetBN,
  googlenetCifar,
  googlenetPaper,
  inferenceModel,
  MODEL_BUILDERS,
  modelSummary,
  type tf,
} from '../src/index';

// Independent counts: the same networks written from the paper in PyTorch 1.13, produced by
//   /usr/bin/python3 test/fixtures/torch_family.py
// (trainable params; non-trainable = BN running mean + variance). Each case: builder, args, total, non-trainable.
const TORCH_COUNTS: [string, () => tf.LayersModel, number, number][] = [
  ['googlenet-paper 224/10', () => googlenetPaper(), 5_983_802, 0],
  ['googlenet-paper 224/10 with aux', () => googlenetPaper({ auxClassifiers: true }), 10_334_030, 0],
  ['googlenet-paper 224/1000', () => googlenetPaper({ numClasses: 1000 }), 6_998_552, 0],
  [
    'googlenet-paper 224/1000 with aux',
    () => googlenetPaper({ numClasses: 1000, auxClassifiers: true }),
    13_378_280,
    0,
  ],
  [
    'googlenet-paper 64 w0.25 with aux',
    () => googlenetPaper({ inputShape: [64, 64, 3], widthMultiplier: 0.25, auxClassifiers: true }),
    409_466,
    0,
  ],
  ['googlenet-bn 224/10', () => googlenetBN(), 6_005_642, 14_560],
  [
    'googlenet-bn 32 w0.25',
    () => googlenetBN({ inputShape: [32, 32, 3], widthMultiplier: 0.25 }),
    384_506,
    3_640,
  ],
  ['googlenet-cifar 32/10', () => googlenetCifar(), 5_886_218, 14_304],
  ['googlenet-cifar no BN', () => googlenetCifar({ batchNorm: false }), 5_864_762, 0],
  ['googlenet-cifar w0.5', () => googlenetCifar({ widthMultiplier: 0.5 }), 1_482_570, 7_152],
  ['googlenet-cifar w0.375', () => googlenetCifar({ widthMultiplier: 0.375 }), 838_078, 5_364],
];

for (const [label, build, total, nonTrainable] of TORCH_COUNTS) {
  test(`parameter count matches PyTorch: ${label}`, () => {
    const model = build();
    const s = modelSummary(model);
    assert.equal(s.totalParams, total);
    assert.equal(s.nonTrainableParams, nonTrainable);
    assert.equal(s.trainableParams, total - nonTrainable);
    model.dispose();
  });
}

test('googlenet-paper follows Table 1: LRN after pool 1 and conv 2b, 7x7/1 average pool, dropout 0.4', () => {
  const model = googlenetPaper();
  const order = model.layers.map((l) => l.name);
  const at = (name: string) => order.indexOf(name);
  assert.ok(at('max_pool_1_3x3_2') < at('lrn_1') && at('lrn_1') < at('conv_2a_3x3_1'));
  assert.ok(at('conv_2b_3x3_1') < at('lrn_2') && at('lrn_2') < at('max_pool_2_3x3_2'));
  assert.equal(model.getLayer('lrn_1').getClassName(), 'LRN');
  const shapes: Record<string, (number | null)[]> = {
    conv_1_7x7_2: [null, 112, 112, 64],
    lrn_1: [null, 56, 56, 64],
    lrn_2: [null, 56, 56, 192],
    max_pool_2_3x3_2: [null, 28, 28, 192],
    inception_3b: [null, 28, 28, 480],
    inception_4a: [null, 14, 14, 512],
    inception_4d: [null, 14, 14, 528],
    inception_4e: [null, 14, 14, 832],
    inception_5b: [null, 7, 7, 1024],
    avg_pool_5_7x7_1: [null, 1, 1, 1024],
    flatten: [null, 1024],
    output: [null, 10],
  };
  for (const [name, shape] of Object.entries(shapes))
    assert.deepEqual(model.getLayer(name).outputShape, shape);
  assert.equal((model.getLayer('dropout').getConfig() as { rate: number }).rate, 0.4);
  assert.equal(model.getLayer('output').getConfig().activation, 'softmax');
  model.dispose();
  // Other input sizes: a global average pool keeps 1024 classifier inputs.
  const small = googlenetPaper({ inputShape: [96, 96, 3] });
  assert.deepEqual(small.getLayer('avg_pool_5_global').outputShape, [null, 1024]);
  small.dispose();
});

test('googlenet-paper auxiliary heads: after 4a and 4d in the training model, absent at inference', () => {
  const training = googlenetPaper({ auxClassifiers: true });
  assert.deepEqual(training.outputNames, ['output', 'aux_1_output', 'aux_2_output']);
  assert.equal(
    training.getLayer('aux_1_avg_pool_5x5_3').inboundNodes[0].inboundLayers[0].name,
    'inception_4a',
  );
  assert.equal(
    training.getLayer('aux_2_avg_pool_5x5_3').inboundNodes[0].inboundLayers[0].name,
    'inception_4d',
  );
  assert.deepEqual(training.getLayer('aux_1_avg_pool_5x5_3').outputShape, [null, 4, 4, 512]);
  assert.deepEqual(training.getLayer('aux_2_conv_1x1').outputShape, [null, 4, 4, 128]);
  assert.deepEqual(training.getLayer('aux_2_fc').outputShape, [null, 1024]);
  assert.equal((training.getLayer('aux_1_dropout').getConfig() as { rate: number }).rate, 0.7);

  const inference = inferenceModel(training);
  assert.deepEqual(inference.outputNames, ['output']);
  assert.equal(inference.name, 'googlenet_paper');
  assert.ok(!inference.layers.some((l) => l.name.startsWith('aux_')));
  assert.ok(training.layers.filter((l) => l.name.startsWith('aux_')).length >= 12);
  // Same weights as the single-output builder, and the very same variables as the training model.
  assert.equal(inference.countParams(), 5_983_802);
  assert.equal(
    inference.getLayer('inception_4a_1x1').getWeights()[0],
    training.getLayer('inception_4a_1x1').getWeights()[0],
  );
  assert.equal(inferenceModel(inference), inference);
  training.dispose();
});

test("googlenet-bn: conv without bias, BN (torchvision's settings), ReLU carrying the block name", () => {
  const model = googlenetBN({ inputShape: [32, 32, 3], widthMultiplier: 0.25 });
  const conv = model.getLayer('inception_3a_3x3_conv');
  assert.equal(conv.getClassName(), 'Conv2D');
  assert.equal(conv.getConfig().useBias, false);
  const bn = model.getLayer('inception_3a_3x3_bn').getConfig() as { momentum: number; epsilon: number };
  assert.equal(bn.momentum, 0.9);
  assert.equal(bn.epsilon, 1e-3);
  assert.equal(model.getLayer('inception_3a_3x3').getClassName(), 'Activation');
  assert.deepEqual(
    model.getLayer('inception_3a').inboundNodes[0].inboundLayers.map((l) => l.name),
    ['inception_3a_1x1', 'inception_3a_3x3', 'inception_3a_5x5', 'inception_3a_pool_proj'],
  );
  assert.equal(model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length, 57);
  assert.ok(!model.layers.some((l) => l.getClassName() === 'LRN'));
  model.dispose();
});

test('googlenet-cifar: no early stride-2 stages, 32 → 32 → 16 → 8, works down to 8x8', () => {
  const model = googlenetCifar({ widthMultiplier: 0.25 });
  assert.deepEqual(model.inputs[0].shape, [null, 32, 32, 3]);
  assert.deepEqual(model.getLayer('conv_1_3x3_1').outputShape, [null, 32, 32, 48]);
  assert.deepEqual(model.getLayer('inception_3b').outputShape, [null, 32, 32, 120]);
  assert.deepEqual(model.getLayer('inception_4e').outputShape, [null, 16, 16, 208]);
  assert.deepEqual(model.getLayer('inception_5b').outputShape, [null, 8, 8, 256]);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  model.dispose();
  const tiny = googlenetCifar({ inputShape: [8, 8, 3], widthMultiplier: 0.05, numClasses: 3 });
  assert.deepEqual(tiny.getLayer('inception_5b').outputShape, [null, 2, 2, 50]);
  tiny.dispose();
  assert.throws(() => googlenetCifar({ inputShape: [7, 7, 3] }), /\[7,7,3\] is too small.*at least 8/);
  // Shipped weights fix the architecture; a conflicting argument is refused before anything loads.
  assert.throws(
    () => googlenetCifar({ weights: 'cifar10', widthMultiplier: 1 }),
    /need widthMultiplier 0.5, got 1/,
  );
  assert.throws(() => googlenetCifar({ weights: 'cifar10', numClasses: 5 }), /need numClasses.*10, got 5/);
  assert.throws(
    () => googlenetCifar({ weights: 'cifar10', stemPool: false }),
    /need stemPool true, got false/,
  );
  assert.throws(() => googlenetCifar({ weights: 'imagenet' as any }), /weights.*got "imagenet"/);
  assert.throws(() => googlenetCifar({ batchNorm: 'yes' as any }), /batchNorm.*got "yes"/);
});

test('googlenet-cifar stemPool: a 3x3/2 max pool after the stem, stages at 16, 8, 4, same parameters', () => {
  const model = googlenetCifar({ widthMultiplier: 0.5, stemPool: true });
  assert.deepEqual(model.getLayer('max_pool_1_3x3_2').outputShape, [null, 16, 16, 96]);
  assert.deepEqual(model.getLayer('inception_3b').outputShape, [null, 16, 16, 240]);
  assert.deepEqual(model.getLayer('inception_4e').outputShape, [null, 8, 8, 416]);
  assert.deepEqual(model.getLayer('inception_5b').outputShape, [null, 4, 4, 512]);
  assert.equal(model.countParams(), 1_482_570);
  model.dispose();
  assert.throws(() => googlenetCifar({ stemPool: 1 as any }), /stemPool must be a boolean, got 1/);
});

test('the family is registered under the CLI names and validates arguments up front', () => {
  assert.deepEqual(
    ['googlenet', 'googlenet-paper', 'googlenet-bn', 'googlenet-cifar'].filter((n) => !MODEL_BUILDERS[n]),
    [],
  );
  for (const name of ['googlenet-paper', 'googlenet-bn', 'googlenet-cifar']) {
    assert.throws(() => buildModel(name, { numClasses: 1 }), new RegExp(`${name}: numClasses.*got 1`));
    assert.throws(() => buildModel(name, { widthMultiplier: -1 }), /widthMultiplier.*got -1/);
    assert.throws(() => buildModel(name, { dropout: 1 }), /dropout.*got 1/);
    assert.throws(() => buildModel(name, { classifierActivation: 'relu' as any }), /got "relu"/);
    // Keras `applications` without the top: the 4-D feature map, or one vector per image with `pooling`.
    const headless = (pooling?: 'avg' | 'max') =>
      buildModel(name, { inputShape: [32, 32, 3], widthMultiplier: 0.05, includeTop: false, pooling });
    for (const [pooling, rank] of [
      [undefined, 4],
      ['avg', 2],
      ['max', 2],
    ] as const) {
      const m = headless(pooling);
      assert.equal(m.outputs[0].shape.length, rank, `${name} pooling ${pooling}`);
      m.dispose();
    }
    assert.throws(() => headless('min' as 'avg'), /pooling must be 'avg', 'max' or undefined, got "min"/);
  }
  // The CLI's default input follows the builder: 32x32 for googlenet-cifar, 224x224 for the others.
  const inputShape = (...argv: string[]) =>
    googlenetArgsFromFlags(parseCommandLine(summaryCommand, argv)!.values).args.inputShape;
  assert.deepEqual(inputShape('--model', 'googlenet-cifar'), [32, 32, 3]);
  assert.deepEqual(inputShape('--model', 'googlenet-bn'), [224, 224, 3]);
  assert.deepEqual(inputShape('--model', 'googlenet-cifar', '--input-size', '64'), [64, 64, 3]);
  assert.throws(() => googlenetPaper({ inputShape: [16, 16, 3] }), /too small/);
  assert.throws(() => googlenetPaper({ auxClassifiers: true, includeTop: false }), /needs includeTop/);
});
