import { onnx } from 'onnx-proto';

/** An ONNX attribute value as the converters write it: numbers are ints unless wrapped with `float()`. */
export type AttrValue = number | number[] | string | { float: number };

/** Marks a number as an ONNX FLOAT attribute (a bare number is an INT). */
export const float = (value: number): { float: number } => ({ float: value });

/** One ONNX attribute (INT, INTS, FLOAT via `float()`, or STRING). */
export function onnxAttribute(name: string, value: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === 'object') return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.INT, i: value };
}

/**
 * The ONNX graph under construction: nodes in topological order, weights as initializers, and unique value
 * names. Converters only call `node`/`weight`; the model assembly reads `nodes`/`initializers`.
 */
export class OnnxGraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

  /** A value name not used before, derived from `base` (layer names are unique, suffixes keep them so). */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Appends one node and returns the names of its outputs. */
  node(
    opType: string,
    inputs: string[],
    name: string,
    attrs: Record<string, AttrValue> = {},
    outputCount = 1,
  ): string[] {
    const nodeName = this.uniqueName(name);
    const outputs = Array.from({ length: outputCount }, (_, i) =>
      outputCount === 1 ? nodeName : this.uniqueName(`${nodeName}:${i}`),
    );
    this.nodes.push({
      opType,
      name: nodeName,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => onnxAttribute(k, v)),
    });
    return outputs;
  }

  /** Appends a one-input node whose output is the already reserved graph output `name`. */
  output(name: string, opType: string, input: string, attrs: Record<string, AttrValue> = {}): void {
    this.nodes.push({
      opType,
      name: `${name}_${opType.toLowerCase()}`,
      input: [input],
      output: [name],
      attribute: Object.entries(attrs).map(([k, v]) => onnxAttribute(k, v)),
    });
  }

  /** Adds a float32 initializer and returns its name. */
  weight(name: string, dims: number[], values: Float32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (values.length !== expected) {
      throw new Error(`weight ${name}: ${values.length} values for dims [${dims}] (${expected})`);
    }
    const unique = this.uniqueName(name);
    // raw_data is little-endian; Float32Array is native-endian, which is little-endian on every target we run.
    const bytes = new Uint8Array(
      values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
    );
    this.initializers.push({ name: unique, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return unique;
  }

  /** Adds an int8, uint8 or int32 initializer (quantized weights, zero points, biases) and returns its name. */
  quantizedWeight(name: string, dims: number[], values: Int8Array | Uint8Array | Int32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (values.length !== expected) {
      throw new Error(`weight ${name}: ${values.length} values for dims [${dims}] (${expected})`);
    }
    const T = onnx.TensorProto.DataType;
    const dataType = values instanceof Int8Array ? T.INT8 : values instanceof Uint8Array ? T.UINT8 : T.INT32;
    const unique = this.uniqueName(name);
    const bytes = new Uint8Array(
      values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
    );
    this.initializers.push({ name: unique, dims, dataType, rawData: bytes });
    return unique;
  }

  /** Adds an int64 initializer (shapes, axes) and returns its name. */
  int64Weight(name: string, values: number[]): string {
    const unique = this.uniqueName(name);
    this.initializers.push({
      name: unique,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: values,
    });
    return unique;
  }
}
