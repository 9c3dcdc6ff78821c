import type * as tf from '@tensorflow/tfjs';

/** One row of the Keras functional-model summary. */
export interface SummaryRow {
  name: string;
  className: string;
  /** Output shape with null for the batch dimension, e.g. [null, 112, 112, 64]. */
  outputShape: (number | null)[] | (number | null)[][];
  params: number;
  /** Inbound layers as Keras writes them: `name[nodeIndex][tensorIndex]`. */
  connectedTo: string[];
}

export interface ModelSummary {
  name: string;
  layers: SummaryRow[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
}

function countParams(weights: tf.LayerVariable[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/** The data behind Keras's `model.summary()`: one row per layer in graph order, and the totals. */
export function modelSummary(model: tf.LayersModel): ModelSummary {
  const layers: SummaryRow[] = model.layers.map((layer) => {
    const connectedTo: string[] = [];
    for (const node of layer.inboundNodes) {
      node.inboundLayers.forEach((inbound, i) => {
        connectedTo.push(`${inbound.name}[${node.nodeIndices[i]}][${node.tensorIndices[i]}]`);
      });
    }
    return {
      name: layer.name,
      className: layer.getClassName(),
      outputShape: layer.outputShape as SummaryRow['outputShape'],
      params: layer.countParams(),
      connectedTo,
    };
  });
  const trainableParams = countParams(model.trainableWeights);
  const nonTrainableParams = countParams(model.nonTrainableWeights);
  return {
    name: model.name,
    layers,
    totalParams: trainableParams + nonTrainableParams,
    trainableParams,
    nonTrainableParams,
  };
}

function formatShape(shape: SummaryRow['outputShape']): string {
  const one = (s: (number | null)[]) =>
    `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')}${s.length === 1 ? ',' : ''})`;
  if (Array.isArray(shape[0])) return `[${(shape as (number | null)[][]).map(one).join(', ')}]`;
  return one(shape as (number | null)[]);
}

const thousands = (n: number) => n.toLocaleString('en-US');

/**
 * The table Keras (tf.keras 2.x) prints for a functional model: `Layer (type) | Output Shape | Param # |
 * Connected to`, one row per layer, extra inbound layers on their own lines, then the totals. Columns are
 * as wide as their longest cell so nothing is cut.
 */
export function formatSummary(summary: ModelSummary): string {
  const headers = ['Layer (type)', 'Output Shape', 'Param #', 'Connected to'];
  const cells = summary.layers.map((l) => [
    `${l.name} (${l.className})`,
    formatShape(l.outputShape),
    String(l.params),
    l.connectedTo.map((c) => `'${c}'`),
  ]);
  const widths = [0, 1, 2].map(
    (c) => Math.max(headers[c].length, ...cells.map((row) => (row[c] as string).length)) + 3,
  );
  widths.push(
    Math.max(headers[3].length, ...cells.flatMap((row) => (row[3] as string[]).map((s) => s.length + 2)), 2) +
      1,
  );
  const total = widths.reduce((a, b) => a + b, 0) + 1;
  const line = (cols: string[]) => ` ${cols.map((c, i) => c.padEnd(widths[i])).join('')}`.trimEnd();
  const out: string[] = [`Model: "${summary.name}"`, '_'.repeat(total), line(headers), '='.repeat(total)];
  cells.forEach((row, i) => {
    const conns = row[3] as string[];
    const connText = (j: number) =>
      conns.length === 0 ? '[]' : `${j === 0 ? '[' : ' '}${conns[j]}${j === conns.length - 1 ? ']' : ','}`;
    out.push(line([row[0] as string, row[1] as string, row[2] as string, connText(0)]));
    for (let j = 1; j < conns.length; j++) out.push(line(['', '', '', connText(j)]));
    out.push(i === cells.length - 1 ? '='.repeat(total) : '');
  });
  out.push(
    `Total params: ${thousands(summary.totalParams)}`,
    `Trainable params: ${thousands(summary.trainableParams)}`,
    `Non-trainable params: ${thousands(summary.nonTrainableParams)}`,
    '_'.repeat(total),
  );
  return out.join('\n');
}
