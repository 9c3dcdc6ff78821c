// Writes an ONNX file in the exact form of the ONNX model zoo's GoogLeNet (googlenet-9.onnx / -12.onnx:
// Caffe bvlc_googlenet → Caffe2 → ONNX), with seeded random weights instead of the trained ones.
// What the form is, from the zoo's manifest, its README and published dumps of the graph:
//   input data_0 [1, 3, 224, 224], output prob_1 [1, 1000], feature tensor pool5/7x7_s1_2 [1, 1024, 1, 1];
//   unnamed nodes; values named after Caffe blobs with Caffe2's SSA suffix (conv1/7x7_s2_1, in-place ReLU
//   conv1/7x7_s2_2); weights `<layer>_w_0` (OIHW) / `<layer>_b_0` in raw_data and listed as graph inputs;
//   Conv with Caffe's symmetric pads; MaxPool with Caffe2's legacy-padding translation, pads end =
//   out * stride - 1 + kernel - in ([0, 0, 2, 2] for the 3x3/2 pools, [1, 1, 1, 1] in the modules); LRN size 5,
//   alpha 1e-4, beta 0.75, bias 1; AveragePool 7x7; Dropout 0.4; Reshape by the int64 initializer
//   OC2_DUMMY_1 = [1, 1024] into OC2_DUMMY_0; Gemm transB=1 → loss3/classifier_1; Softmax → prob_1.
import { onnx } from 'onnx-proto';
import { type AttrValue, float, onnxAttribute } from '../../src/export/onnx_graph';
import { INCEPTION_TABLE } from '../../src/models/googlenet';
import { seeded } from '../helpers/onednn';

export interface ZooFixtureOptions {
  /** 9 (the zoo's googlenet-9 form) or 12 (Dropout without the ratio attribute). Default 9. */
  opset?: 9 | 12;
  seed?: number;
  /** Rows of loss3/classifier. Default 1000. */
  numClasses?: number;
  /** Scale of the classifier weights, to keep the softmax away from saturation. Default 0.005. */
  classifierScale?: number;
}

class ZooGraph {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private seed: number;

  constructor(seed: number) {
    this.seed = seed;
  }

  node(opType: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push({
      opType,
      name: '',
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => onnxAttribute(k, v)),
    });
    return output;
  }

  /** A float32 initializer of seeded uniform values in [-limit, limit), stored as raw_data like the zoo's. */
  weight(name: string, dims: number[], limit: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const values = seeded(count, this.seed++).map((v) => v * limit);
    this.initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(values.buffer),
    });
    return name;
  }

  /** Conv + in-place ReLU of Caffe layer `layer` (He-uniform weights so activations keep their scale). */
  convRelu(
    input: string,
    inChannels: number,
    layer: string,
    filters: number,
    kernel: number,
    stride = 1,
  ): string {
    const w = this.weight(
      `${layer}_w_0`,
      [filters, inChannels, kernel, kernel],
      Math.sqrt(6 / (inChannels * kernel ** 2)),
    );
    const b = this.weight(`${layer}_b_0`, [filters], 0.1);
    const pad = Math.floor(kernel / 2);
    const conv = this.node('Conv', [input, w, b], `${layer}_1`, {
      dilations: [1, 1],
      group: 1,
      kernel_shape: [kernel, kernel],
      pads: [pad, pad, pad, pad],
      strides: [stride, stride],
    });
    return this.node('Relu', [conv], `${layer}_2`);
  }

  maxPool(
    input: string,
    output: string,
    kernel: number,
    stride: number,
    padEnd: number,
    padBegin = 0,
  ): string {
    return this.node('MaxPool', [input], output, {
      kernel_shape: [kernel, kernel],
      pads: [padBegin, padBegin, padEnd, padEnd],
      strides: [stride, stride],
    });
  }

  lrn(input: string, output: string): string {
    return this.node('LRN', [input], output, {
      alpha: float(1e-4),
      beta: float(0.75),
      bias: float(1),
      size: 5,
    });
  }
}

function valueInfo(
  name: string,
  dims: number[],
  elemType = onnx.TensorProto.DataType.FLOAT,
): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

/** The zoo GoogLeNet's ModelProto with seeded weights. */
export function zooGoogLeNet(options: ZooFixtureOptions = {}): onnx.ModelProto {
  const { opset = 9, seed = 1, numClasses = 1000, classifierScale = 0.005 } = options;
  const g = new ZooGraph(seed);
  let x = g.convRelu('data_0', 3, 'conv1/7x7_s2', 64, 7, 2); // 112x112
  x = g.maxPool(x, 'pool1/3x3_s2_1', 3, 2, 2); // 56x56
  x = g.lrn(x, 'pool1/norm1_1');
  x = g.convRelu(x, 64, 'conv2/3x3_reduce', 64, 1);
  x = g.convRelu(x, 64, 'conv2/3x3', 192, 3);
  x = g.lrn(x, 'conv2/norm2_1');
  x = g.maxPool(x, 'pool2/3x3_s2_1', 3, 2, 2); // 28x28
  let channels = 192;
  const stagePools: Record<string, string> = { '3': 'pool3/3x3_s2_1', '4': 'pool4/3x3_s2_1' };
  for (const [stage, rows] of Object.entries(INCEPTION_TABLE)) {
    for (const [m, f1, f3r, f3, f5r, f5, fp] of rows) {
      const b1 = g.convRelu(x, channels, `${m}/1x1`, f1, 1);
      const b2 = g.convRelu(g.convRelu(x, channels, `${m}/3x3_reduce`, f3r, 1), f3r, `${m}/3x3`, f3, 3);
      const b3 = g.convRelu(g.convRelu(x, channels, `${m}/5x5_reduce`, f5r, 1), f5r, `${m}/5x5`, f5, 5);
      const pool = g.maxPool(x, `${m}/pool_1`, 3, 1, 1, 1);
      const b4 = g.convRelu(pool, channels, `${m}/pool_proj`, fp, 1);
      x = g.node('Concat', [b1, b2, b3, b4], `${m}/output_1`, { axis: 1 });
      channels = f1 + f3 + f5 + fp;
    }
    if (stagePools[stage]) x = g.maxPool(x, stagePools[stage], 3, 2, 2);
  }
  x = g.node('AveragePool', [x], 'pool5/7x7_s1_1', {
    kernel_shape: [7, 7],
    pads: [0, 0, 0, 0],
    strides: [1, 1],
  });
  x = g.node('Dropout', [x], 'pool5/7x7_s1_2', opset < 12 ? { ratio: float(0.4) } : {});
  g.initializers.push({
    name: 'OC2_DUMMY_1',
    dims: [2],
    dataType: onnx.TensorProto.DataType.INT64,
    int64Data: [1, channels],
  });
  x = g.node('Reshape', [x, 'OC2_DUMMY_1'], 'OC2_DUMMY_0');
  const w = g.weight('loss3/classifier_w_0', [numClasses, channels], classifierScale);
  const b = g.weight('loss3/classifier_b_0', [numClasses], classifierScale);
  x = g.node('Gemm', [x, w, b], 'loss3/classifier_1', { transB: 1 });
  g.node('Softmax', [x], 'prob_1');
  const weightInputs = g.initializers.map((t) =>
    valueInfo(t.name!, (t.dims ?? []).map(Number), t.dataType ?? onnx.TensorProto.DataType.FLOAT),
  );
  return onnx.ModelProto.create({
    irVersion: opset < 12 ? 4 : 7,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'onnx-caffe2',
    graph: {
      name: 'googlenet',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo('data_0', [1, 3, 224, 224]), ...weightInputs],
      output: [valueInfo('prob_1', [1, numClasses])],
    },
  });
}

export function zooGoogLeNetBytes(options: ZooFixtureOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(zooGoogLeNet(options)).finish();
}

/** The same model with extra graph outputs (intermediate values), for comparing inside the network. */
export function withOutputs(bytes: Uint8Array, names: string[]): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const name of names) {
    model.graph!.output!.push({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
  }
  return onnx.ModelProto.encode(model).finish();
}
