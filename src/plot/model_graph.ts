import type * as tf from '@tensorflow/tfjs';

/** One layer of a model as drawn: a box with its name, class and output shape. */
export interface GraphNode {
  name: string;
  className: string;
  /** Keras notation, e.g. `(None, 112, 112, 64)`; several outputs joined with `, `. */
  outputShape: string;
  params: number;
  /** The group box the layer is drawn in (an inception module or an auxiliary head), if any. */
  group?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
}

/** The layer graph of a model, and left-to-right orders to keep (branches of each module). */
export interface ModelGraph {
  name: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  groups: string[];
  /** Each Concatenate and its branches, left to right, each as its layers from the split down. */
  modules: { concat: string; branches: string[][] }[];
}

function shapeText(shape: tf.Shape | tf.Shape[]): string {
  const one = (s: tf.Shape) =>
    `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')}${s.length === 1 ? ',' : ''})`;
  return Array.isArray(shape[0]) ? (shape as tf.Shape[]).map(one).join(', ') : one(shape as tf.Shape);
}

/**
 * Layers whose output several layers read are where branches split; a branch is the chain of layers from
 * such a split to a Concatenate input. Returns each branch of `concat` as its layers from the split down.
 */
function branches(concat: tf.layers.Layer): string[][] {
  return concat.inboundNodes[0].inboundLayers.map((layer) => {
    const chain: string[] = [];
    let current: tf.layers.Layer | undefined = layer;
    while (current && current.inboundNodes[0]?.inboundLayers.length === 1) {
      chain.unshift(current.name);
      const parent: tf.layers.Layer = current.inboundNodes[0].inboundLayers[0];
      if (parent.outboundNodes.length > 1) break;
      current = parent;
    }
    return chain;
  });
}

/** The group a layer belongs to: `inception_3a_3x3` → `inception_3a` (a Concatenate's name), `aux_1_fc` → `aux_1`. */
function groupOf(name: string, concats: string[]): string | undefined {
  const aux = /^(aux_\d+)_/.exec(name);
  if (aux) return aux[1];
  return concats.find((c) => name === c || name.startsWith(`${c}_`));
}

/** Extracts the drawable graph of a tfjs model: every layer, every connection, inception branches in order. */
export function modelGraph(model: tf.LayersModel): ModelGraph {
  const concats = model.layers.filter((l) => l.getClassName() === 'Concatenate').map((l) => l.name);
  const nodes: GraphNode[] = model.layers.map((layer) => ({
    name: layer.name,
    className: layer.getClassName(),
    outputShape: shapeText(layer.outputShape),
    params: layer.countParams(),
    group: groupOf(layer.name, concats),
  }));
  const edges: GraphEdge[] = [];
  for (const layer of model.layers) {
    for (const node of layer.inboundNodes) {
      for (const inbound of node.inboundLayers) edges.push({ from: inbound.name, to: layer.name });
    }
  }
  const modules = concats.map((concat) => ({ concat, branches: branches(model.getLayer(concat)) }));
  const groups = [...new Set(nodes.map((n) => n.group).filter((g): g is string => g !== undefined))];
  return { name: model.name, nodes, edges, groups, modules };
}
