import type * as tf from '@tensorflow/tfjs';
import type { ActivationRanges } from '../inference/plan';
import {
  type ActivationQuant,
  activationQuant,
  foldBatchNorm,
  quantizeBias,
  quantizeFilter,
} from '../quantize/scheme';
import type { OnnxGraphBuilder } from './onnx_graph';
import {
  applyActivation,
  batchNormParams,
  convAttributes,
  kernelAndBias,
  LAYER_CONVERTERS,
  type LayerConverter,
  layerActivation,
} from './onnx_layers';

/**
 * The ONNX QDQ form of a quantized model folder, as onnxruntime's QDQ transformers turn it into int8 kernels
 * (QLinearConv and friends): every convolution reads DequantizeLinear(QuantizeLinear(x)) with its input's
 * per-tensor parameters, DequantizeLinear of int8 weights (per output channel, axis 0, BatchNormalization
 * folded in first) and of an int32 bias (scale x_scale * w_scale), and its block's output (after the ReLU)
 * is quantized again, with the parameters of the concatenation it feeds when it feeds one (branches share
 * the concat's scale, as the native int8 plan stores them). Max and average pools keep their input's
 * parameters (the pooled values stay on the input's grid or within its range). Everything else (LRN,
 * global pooling, dense, softmax) runs in float on dequantized values. Zero points are 0: u8 after ReLU,
 * s8 elsewhere (the scheme of src/quantize/scheme.ts).
 */

type Symbolic = tf.SymbolicTensor;

/** Layers a converter reads from (their single application's inputs). */
function inputLayers(layer: tf.layers.Layer): tf.layers.Layer[] {
  return (layer.inboundNodes[0]?.inputTensors ?? []).map(
    (t) => (t as Symbolic).sourceLayer as tf.layers.Layer,
  );
}

/** A convolution block as the int8 engines run it: conv [→ folded BN] [→ ReLU], one quantized output. */
interface ConvBlock {
  conv: tf.layers.Layer;
  bn: tf.layers.Layer | null;
  /** The layer whose output is the block's (quantized) output. */
  end: tf.layers.Layer;
  /** The layer whose calibrated range sets the output's parameters (a consuming concat, else `end`). */
  outputRange: string;
}

function findBlocks(model: tf.LayersModel): ConvBlock[] {
  const consumers = new Map<string, tf.layers.Layer[]>();
  for (const layer of model.layers) {
    for (const src of inputLayers(layer))
      consumers.set(src.name, [...(consumers.get(src.name) ?? []), layer]);
  }
  const outputs = new Set(model.outputs.map((t) => (t.sourceLayer as tf.layers.Layer).name));
  const sole = (layer: tf.layers.Layer, className: string): tf.layers.Layer | null => {
    const c = consumers.get(layer.name) ?? [];
    return c.length === 1 &&
      !outputs.has(layer.name) &&
      c[0].getClassName() === className &&
      c[0].inboundNodes.length === 1
      ? c[0]
      : null;
  };
  const blocks: ConvBlock[] = [];
  for (const conv of model.layers) {
    if (conv.getClassName() !== 'Conv2D' || conv.inboundNodes.length !== 1) continue;
    // A BN after a conv's own activation cannot be folded into it.
    const bn = layerActivation(conv) === 'linear' ? sole(conv, 'BatchNormalization') : null;
    const last = bn ?? conv;
    const act = layerActivation(last) === 'linear' ? sole(last, 'Activation') : null;
    const end = act && layerActivation(act) === 'relu' ? act : last;
    const concat = sole(end, 'Concatenate');
    blocks.push({ conv, bn, end, outputRange: (concat ?? end).name });
  }
  return blocks;
}

/** The converters of `model`'s layers that the QDQ form replaces, by layer name; the others are as in float. */
export function qdqConverters(model: tf.LayersModel, ranges: ActivationRanges): Map<string, LayerConverter> {
  const inputName = model.inputLayers[0]?.name;
  const rangeOf = (layerName: string): [number, number] => {
    const key = layerName === inputName ? 'input' : layerName;
    const range = ranges[key];
    if (!range) throw new Error(`quantization.json has no range for ${JSON.stringify(key)}`);
    return range;
  };
  // DequantizeLinear outputs and the parameters they carry: consumers read them as quantized values.
  const quantized = new Map<string, ActivationQuant>();
  const qdq = (g: OnnxGraphBuilder, value: string, q: ActivationQuant, base: string): string => {
    const scale = g.weight(`${base}_scale`, [], new Float32Array([q.scale]));
    const zero = g.quantizedWeight(
      `${base}_zero_point`,
      [],
      q.type === 'uint8' ? new Uint8Array(1) : new Int8Array(1),
    );
    const [stored] = g.node('QuantizeLinear', [value, scale, zero], `${base}_quantize`);
    const [out] = g.node('DequantizeLinear', [stored, scale, zero], `${base}_dequantize`);
    quantized.set(out, q);
    return out;
  };
  /** `value` as a quantized value: itself when it is one, else through Q/DQ with `layer`'s range. */
  const ensureQuantized = (g: OnnxGraphBuilder, value: string, producer: tf.layers.Layer) =>
    quantized.has(value) ? value : qdq(g, value, activationQuant(rangeOf(producer.name)), producer.name);

  const converters = new Map<string, LayerConverter>();
  for (const block of findBlocks(model)) {
    const outputQuant = activationQuant(rangeOf(block.outputRange));
    const finish = (g: OnnxGraphBuilder, value: string) => qdq(g, value, outputQuant, block.end.name);
    converters.set(block.conv.name, (layer, [x], g) => {
      const input = ensureQuantized(g, x.name, inputLayers(layer)[0]);
      const inputQuant = quantized.get(input)!;
      const { kernel, bias } = kernelAndBias(layer);
      const shape = kernel.shape as [number, number, number, number];
      let weights = {
        filter: kernel.dataSync() as Float32Array,
        shape,
        bias: bias ? (bias.dataSync() as Float32Array) : null,
      };
      if (block.bn) weights = foldBatchNorm(weights, batchNormParams(block.bn, 4));
      const [kh, kw, inC, outC] = shape;
      const q = quantizeFilter(weights.filter, outC);
      // HWIO → OIHW, ONNX's filter layout; per-channel DequantizeLinear runs along axis 0 (O).
      const oihw = new Int8Array(q.values.length);
      for (let i = 0; i < q.values.length; i++) {
        const o = i % outC;
        const ci = Math.floor(i / outC) % inC;
        const hw = Math.floor(i / (outC * inC));
        oihw[(o * inC + ci) * kh * kw + hw] = q.values[i];
      }
      const wName = `${layer.name}_W`;
      const wScale = g.weight(`${wName}_scale`, [outC], q.scales);
      const wZero = g.quantizedWeight(`${wName}_zero_point`, [outC], new Int8Array(outC));
      const [w] = g.node(
        'DequantizeLinear',
        [g.quantizedWeight(`${wName}_int8`, [outC, inC, kh, kw], oihw), wScale, wZero],
        `${wName}_dequantize`,
        { axis: 0 },
      );
      const inputs = [input, w];
      if (weights.bias) {
        const bName = `${layer.name}_B`;
        const bScale = q.scales.map((s) => s * inputQuant.scale);
        const [b] = g.node(
          'DequantizeLinear',
          [
            g.quantizedWeight(
              `${bName}_int32`,
              [outC],
              quantizeBias(weights.bias, inputQuant.scale, q.scales),
            ),
            g.weight(`${bName}_scale`, [outC], bScale),
            g.quantizedWeight(`${bName}_zero_point`, [outC], new Int32Array(outC)),
          ],
          `${bName}_dequantize`,
          { axis: 0 },
        );
        inputs.push(b);
      }
      const [y] = g.node('Conv', inputs, layer.name, convAttributes(layer, x));
      if (block.end !== layer) return [y];
      return [finish(g, applyActivation(g, layer, y, (layer.getConfig() as any).activation, 4))];
    });
    if (block.bn) {
      // Folded into the convolution above.
      converters.set(block.bn.name, (layer, [x], g) => [block.end === layer ? finish(g, x.name) : x.name]);
    }
    if (block.end !== block.conv && block.end !== block.bn) {
      converters.set(block.end.name, (layer, inputs, g) => [
        finish(g, LAYER_CONVERTERS.Activation(layer, inputs, g)[0]),
      ]);
    }
  }
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'MaxPooling2D' || className === 'AveragePooling2D') {
      converters.set(layer.name, (l, inputs, g) => {
        const [y] = LAYER_CONVERTERS[className](l, inputs, g);
        const q = quantized.get(inputs[0].name);
        return [q ? qdq(g, y, q, l.name) : y];
      });
    } else if (className === 'Concatenate') {
      converters.set(layer.name, (l, inputs, g) => {
        const [y] = LAYER_CONVERTERS.Concatenate(l, inputs, g);
        return [qdq(g, y, activationQuant(rangeOf(l.name)), l.name)];
      });
    }
  }
  return converters;
}
