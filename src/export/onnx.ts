import type * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import type { ActivationRanges } from '../inference/plan';
import { writeFileAtomic } from '../io/atomic';
import { checkModelMatchesInfo, type ModelInfo } from '../io/model_folder';
import { OnnxGraphBuilder } from './onnx_graph';
import { LAYER_CONVERTERS, NCHW_TO_NHWC, NHWC_TO_NCHW, type OnnxValue } from './onnx_layers';
import { qdqConverters } from './onnx_qdq';

/** Opset 13: every operator we emit has its current semantics there (Softmax over one axis, Clip inputs). */
export const ONNX_OPSET = 13;
/** IR version 7 is the one that goes with opset 13, readable by every onnxruntime since 1.6. */
const IR_VERSION = 7;
/** The symbolic batch dimension of graph inputs and outputs. */
export const BATCH_DIM = 'batch';

type Symbolic = tf.SymbolicTensor;

/** The model's layer applications in an order where each comes after the ones it reads (depth-first). */
function topologicalNodes(model: tf.LayersModel): { layer: tf.layers.Layer; nodeIndex: number }[] {
  const order: { layer: tf.layers.Layer; nodeIndex: number }[] = [];
  const seen = new Set<string>();
  const visit = (t: Symbolic) => {
    const layer = t.sourceLayer as tf.layers.Layer;
    const key = `${layer.name}#${t.nodeIndex}`;
    if (seen.has(key)) return;
    seen.add(key);
    const node = layer.inboundNodes[t.nodeIndex];
    for (const input of node.inputTensors) visit(input);
    order.push({ layer, nodeIndex: t.nodeIndex });
  };
  for (const out of model.outputs) visit(out);
  return order;
}

function valueInfo(name: string, shape: (number | null)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (d === null ? { dimParam: BATCH_DIM } : { dimValue: d })) },
      },
    },
  };
}

export interface OnnxExportOptions {
  /**
   * Write the int8 QDQ form (src/export/onnx_qdq.ts) with these calibrated ranges (a quantized folder's
   * quantization.json activations) instead of the float graph.
   */
  int8Ranges?: ActivationRanges;
}

/**
 * Converts a tfjs LayersModel into an ONNX ModelProto. Inputs and outputs keep the tfjs layout (NHWC
 * float32, dynamic batch); inside, the graph runs NCHW (one Transpose after each input). With `info` (a
 * classifier's model folder), labels, preprocessing and the builder go into metadata_props; without it any
 * supported LayersModel converts, with only its layout as metadata. Throws naming the first unsupported layer.
 */
export function toOnnxModel(
  model: tf.LayersModel,
  info?: ModelInfo,
  options: OnnxExportOptions = {},
): onnx.ModelProto {
  // The metadata must not carry values that make every inference NaN, nor describe another input shape.
  if (info) checkModelMatchesInfo(model, info);
  const g = new OnnxGraphBuilder();
  const overrides = options.int8Ranges ? qdqConverters(model, options.int8Ranges) : new Map();
  // The graph outputs keep the tfjs output names: reserve them before any layer can take them.
  const outputNames = model.outputs.map((_t, i) => g.uniqueName(model.outputNames[i] ?? `output_${i}`));
  const values = new Map<number, OnnxValue>(); // SymbolicTensor id → value
  const graphInputs: onnx.IValueInfoProto[] = [];
  for (const { layer, nodeIndex } of topologicalNodes(model)) {
    const node = layer.inboundNodes[nodeIndex];
    const className = layer.getClassName();
    const outputsSymbolic = node.outputTensors as Symbolic[];
    if (className === 'InputLayer') {
      const t = outputsSymbolic[0];
      const name = g.uniqueName(layer.name);
      graphInputs.push(valueInfo(name, t.shape));
      const internal =
        t.shape.length === 4
          ? g.node('Transpose', [name], `${layer.name}_nchw`, { perm: NHWC_TO_NCHW })[0]
          : name;
      values.set(t.id, { name: internal, shape: t.shape });
      continue;
    }
    const convert = overrides.get(layer.name) ?? LAYER_CONVERTERS[className];
    if (!convert) {
      throw new Error(
        `layer ${layer.name} (${className}) has no ONNX mapping; supported layers: InputLayer, ${Object.keys(LAYER_CONVERTERS).join(', ')}`,
      );
    }
    const inputs = (node.inputTensors as Symbolic[]).map((t) => {
      const v = values.get(t.id);
      if (!v) throw new Error(`layer ${layer.name}: input ${t.name} was not converted`);
      return v;
    });
    const outputs = convert(layer, inputs, g);
    outputsSymbolic.forEach((t, i) => {
      values.set(t.id, { name: outputs[i], shape: t.shape });
    });
  }
  const graphOutputs = model.outputs.map((t, i) => {
    const v = values.get(t.id)!;
    // Rank-4 outputs go back to NHWC.
    if (v.shape.length === 4) g.output(outputNames[i], 'Transpose', v.name, { perm: NCHW_TO_NHWC });
    else g.output(outputNames[i], 'Identity', v.name);
    return valueInfo(outputNames[i], t.shape);
  });
  const metadata: Record<string, string> = info
    ? {
        model: info.model,
        width_multiplier: String(info.widthMultiplier),
        labels: JSON.stringify(info.labels),
        preprocessing: JSON.stringify(info.preprocessing),
        input_layout: 'NHWC',
      }
    : { input_layout: 'NHWC' };
  if (options.int8Ranges) metadata.precision = 'int8';
  return onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'inception-net',
    producerVersion: '0.1.0',
    docString: info
      ? `${info.model} exported from TensorFlow.js; input NHWC float32 normalised as metadata 'preprocessing' says`
      : `${model.name} exported from TensorFlow.js; input NHWC float32`,
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: graphInputs,
      output: graphOutputs,
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
}

/** Serialises `toOnnxModel` to ONNX protobuf bytes. */
export function exportOnnxBytes(
  model: tf.LayersModel,
  info?: ModelInfo,
  options: OnnxExportOptions = {},
): Uint8Array {
  return onnx.ModelProto.encode(toOnnxModel(model, info, options)).finish();
}

/** Writes the ONNX file atomically. */
export async function exportOnnx(
  model: tf.LayersModel,
  info: ModelInfo | undefined,
  file: string,
  options: OnnxExportOptions = {},
): Promise<void> {
  await writeFileAtomic(file, exportOnnxBytes(model, info, options));
}
