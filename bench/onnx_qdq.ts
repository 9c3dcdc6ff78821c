import { onnx } from 'onnx-proto';

/**
 * An int8 copy of an fp32 ONNX model in onnxruntime's QDQ form (QuantizeLinear/DequantizeLinear pairs that
 * onnxruntime fuses into its int8 kernels), made the way its `quantize_static(..., QuantFormat.QDQ)` does
 * by default: activations per-tensor asymmetric uint8 from calibrated min/max, Conv weights per-channel
 * symmetric int8, the Gemm weight per-tensor int8, biases int32 at input scale x weight scale, opset 13.
 * A Conv followed by a Relu is quantized at the Relu's output (onnxruntime drops the Relu into the
 * quantized Conv); MaxPool and Flatten keep their input's scale, so their QDQ pairs cancel.
 */

const T = onnx.TensorProto.DataType;

/** Ops whose data inputs are quantized (onnxruntime has int8 kernels for them). */
const QUANTIZED_OPS = new Set(['Conv', 'Gemm', 'MaxPool', 'Concat', 'GlobalAveragePool']);
/** Ops whose output keeps the input's range (and scale). */
const RANGE_PRESERVING = new Set(['MaxPool', 'Flatten']);

export type Ranges = Map<string, [number, number]>;

/** A decoded graph's fields, always present after decode (protobufjs fills repeated fields with []). */
interface Graph {
  node: Node[];
  initializer: onnx.ITensorProto[];
  output: onnx.IValueInfoProto[];
}
type Node = onnx.INodeProto & { opType: string; name: string; input: string[]; output: string[] };

/** A deep copy of `model` and its graph, typed as decoded. */
function copyOf(model: onnx.IModelProto): { model: onnx.ModelProto; graph: Graph } {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  return { model: copy, graph: copy.graph as unknown as Graph };
}

/** The model with every float node output also a graph output (for calibration, and to compare). */
export function withEveryOutput(model: onnx.IModelProto): onnx.ModelProto {
  const { model: copy, graph } = copyOf(model);
  const outputs = new Set(graph.output.map((o) => o.name));
  // QuantizeLinear writes uint8; every other node here writes float.
  for (const node of graph.node.filter((n) => n.opType !== 'QuantizeLinear'))
    for (const name of node.output) {
      if (outputs.has(name)) continue;
      graph.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: T.FLOAT } } }));
      outputs.add(name);
    }
  return copy;
}

/** The tensors to quantize: data inputs of quantized ops and GlobalAveragePool outputs. */
function quantizedTensors(graph: Graph): string[] {
  const weights = new Set(graph.initializer.map((i) => i.name));
  const names: string[] = [];
  const add = (name: string) => {
    if (!weights.has(name) && !names.includes(name)) names.push(name);
  };
  for (const node of graph.node) {
    if (!QUANTIZED_OPS.has(node.opType!)) continue;
    const data = node.opType === 'Concat' ? node.input! : node.input!.slice(0, 1);
    data.forEach(add);
    if (node.opType === 'GlobalAveragePool') add(node.output![0]);
  }
  return names;
}

/** uint8 asymmetric parameters of [lo, hi] (widened to hold 0, as onnxruntime does). */
export function activationParams([lo, hi]: [number, number]): { scale: number; zeroPoint: number } {
  const min = Math.min(0, lo);
  const max = Math.max(0, hi);
  const scale = max > min ? (max - min) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-min / scale))) };
}

/** int8 symmetric scales of `values` split into `channels` equal runs (1: per tensor). */
export function weightScales(values: Float32Array, channels: number): Float32Array {
  const per = values.length / channels;
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let max = 0;
    for (let i = c * per; i < (c + 1) * per; i++) max = Math.max(max, Math.abs(values[i]));
    scales[c] = max > 0 ? max / 127 : 1;
  }
  return scales;
}

function floats(t: onnx.ITensorProto): Float32Array {
  if (t.rawData?.length) {
    const raw = t.rawData;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from(t.floatData ?? []);
}

const tensor = (
  name: string,
  dataType: number,
  dims: number[],
  bytes: ArrayBufferView,
): onnx.ITensorProto => ({
  name,
  dataType,
  dims,
  rawData: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
});

/**
 * The QDQ int8 model of `model` given each tensor's calibrated [min, max] (`ranges`, by tensor name; the
 * graph input included). Throws naming a tensor that needs a range and has none.
 */
export function quantizeQdq(model: onnx.IModelProto, ranges: Ranges): onnx.ModelProto {
  const { model: copy, graph } = copyOf(model);
  const producer = new Map<string, Node>();
  for (const node of graph.node) for (const o of node.output) producer.set(o, node);
  // The range a tensor is quantized with: a range-preserving op's output takes its input's.
  const rangeOf = (name: string): [number, number] => {
    const from = producer.get(name);
    if (from && RANGE_PRESERVING.has(from.opType!)) return rangeOf(from.input![0]);
    const range = ranges.get(name);
    if (!range) throw new Error(`QDQ: no calibrated range for tensor ${name}`);
    return range;
  };
  const initializers = new Map(graph.initializer.map((i) => [i.name as string, i]));
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  const prologue: Node[] = [];
  const after = new Map<string, Node[]>();
  const renamed = new Map<string, string>();
  for (const name of quantizedTensors(graph)) {
    const p = activationParams(rangeOf(name));
    params.set(name, p);
    graph.initializer.push(
      tensor(`${name}_scale`, T.FLOAT, [], new Float32Array([p.scale])),
      tensor(`${name}_zero_point`, T.UINT8, [], new Uint8Array([p.zeroPoint])),
    );
    const q = [`${name}_scale`, `${name}_zero_point`];
    const pair: Node[] = [
      { opType: 'QuantizeLinear', name: `${name}_q`, input: [name, ...q], output: [`${name}_quantized`] },
      {
        opType: 'DequantizeLinear',
        name: `${name}_dq`,
        input: [`${name}_quantized`, ...q],
        output: [`${name}_dq`],
      },
    ];
    const from = producer.get(name);
    if (from) after.set(from.name!, [...(after.get(from.name!) ?? []), ...pair]);
    else prologue.push(...pair);
    renamed.set(name, `${name}_dq`);
  }
  // Weights: int8 with their scales, dequantized in front of the op; biases int32.
  for (const node of graph.node) {
    if (node.opType !== 'Conv' && node.opType !== 'Gemm') continue;
    const x = params.get(node.input![0])!;
    const w = initializers.get(node.input![1]);
    if (!w) throw new Error(`QDQ: ${node.name}'s weight ${node.input![1]} is not an initializer`);
    const values = floats(w);
    const channels = node.opType === 'Conv' ? Number(w.dims![0]) : 1;
    const scales = weightScales(values, channels);
    const per = values.length / channels;
    const q = Int8Array.from(values, (v, i) =>
      Math.max(-127, Math.min(127, Math.round(v / scales[Math.floor(i / per)]))),
    );
    const wName = node.input![1];
    const scaleDims = channels > 1 ? [channels] : [];
    graph.initializer.push(
      tensor(`${wName}_quantized`, T.INT8, w.dims!.map(Number), q),
      tensor(`${wName}_scale`, T.FLOAT, scaleDims, scales),
      tensor(`${wName}_zero_point`, T.INT8, scaleDims, new Int8Array(Math.max(channels, 1))),
    );
    const axis =
      channels > 1
        ? [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 })]
        : [];
    prologue.push({
      opType: 'DequantizeLinear',
      name: `${wName}_dq`,
      input: [`${wName}_quantized`, `${wName}_scale`, `${wName}_zero_point`],
      output: [`${wName}_dq`],
      attribute: axis,
    });
    node.input![1] = `${wName}_dq`;
    const bName = node.input![2];
    const b = bName ? initializers.get(bName) : undefined;
    if (b) {
      const bias = floats(b);
      const bScales = Float32Array.from(bias, (_, i) => x.scale * scales[channels > 1 ? i : 0]);
      const bq = Int32Array.from(bias, (v, i) => Math.round(v / bScales[i]));
      graph.initializer.push(
        tensor(`${bName}_quantized`, T.INT32, [bias.length], bq),
        tensor(`${bName}_scale`, T.FLOAT, [bias.length], bScales),
        tensor(`${bName}_zero_point`, T.INT32, [bias.length], new Int32Array(bias.length)),
      );
      prologue.push({
        opType: 'DequantizeLinear',
        name: `${bName}_dq`,
        input: [`${bName}_quantized`, `${bName}_scale`, `${bName}_zero_point`],
        output: [`${bName}_dq`],
        attribute: [
          onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
        ],
      });
      node.input![2] = `${bName}_dq`;
    }
  }
  // Quantized ops read the dequantized tensors; everything else (Relu, Flatten, Softmax) the float ones.
  const nodes: Node[] = [...prologue];
  for (const node of graph.node) {
    if (QUANTIZED_OPS.has(node.opType!) || RANGE_PRESERVING.has(node.opType!))
      node.input = node.input!.map((i) => renamed.get(i) ?? i);
    nodes.push(node, ...(after.get(node.name!) ?? []));
  }
  graph.node = nodes;
  // The float weights that were quantized are no longer read.
  const read = new Set(nodes.flatMap((n) => n.input));
  graph.initializer = graph.initializer.filter((i) => read.has(i.name as string));
  return copy;
}
