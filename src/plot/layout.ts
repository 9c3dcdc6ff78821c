import { graphlib, layout } from '@dagrejs/dagre';
import type { ModelGraph } from './model_graph';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphLayout {
  width: number;
  height: number;
  /** Centre and size of each layer's box, by layer name. */
  nodes: Map<string, Box>;
  /** Centre and size of each group's frame. */
  groups: Map<string, Box>;
  /** Polyline of each edge, from the source box's border to the target's. */
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
}

/** Box sizes for text: monospace glyphs of about 0.6 em, three lines. */
export const FONT_SIZE = 12;
const CHAR_WIDTH = FONT_SIZE * 0.62;
const LINE_HEIGHT = FONT_SIZE * 1.35;
const PADDING = 8;
const GROUP_PADDING = 6;

export function boxSize(lines: string[]): { width: number; height: number } {
  const longest = Math.max(...lines.map((l) => l.length));
  return {
    width: Math.ceil(longest * CHAR_WIDTH + 2 * PADDING),
    height: Math.ceil(lines.length * LINE_HEIGHT + PADDING),
  };
}

/** The text lines of a layer's box, as Keras `plot_model(show_shapes=True)` shows them. */
export function nodeLines(node: ModelGraph['nodes'][number]): string[] {
  return [node.name, node.className, node.outputShape];
}

/**
 * Lays the graph out top to bottom with dagre (layered, Sugiyama-style): one rank per depth, inception
 * module branches kept in module order left to right.
 */
export function layoutGraph(graph: ModelGraph): GraphLayout {
  const g = new graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 30, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) {
    g.setNode(node.name, boxSize(nodeLines(node)));
  }
  // Branches of a module start on one rank, as in Keras's drawings: a short branch's last edge is
  // lengthened to reach the concat; and sibling layers on one rank keep the module's branch order.
  const minlen = new Map<string, number>();
  const constraints: { left: string; right: string }[] = [];
  for (const { concat, branches } of graph.modules) {
    const longest = Math.max(...branches.map((b) => b.length));
    for (const b of branches)
      if (b.length) minlen.set(`${b[b.length - 1]}->${concat}`, longest - b.length + 1);
    for (let i = 1; i < branches.length; i++) {
      const depth = Math.min(branches[i - 1].length, branches[i].length);
      for (let d = 0; d < depth; d++) constraints.push({ left: branches[i - 1][d], right: branches[i][d] });
    }
  }
  for (const edge of graph.edges) {
    g.setEdge(edge.from, edge.to, { minlen: minlen.get(`${edge.from}->${edge.to}`) ?? 1 });
  }
  layout(g, { constraints });

  const nodes = new Map<string, Box>();
  for (const node of graph.nodes) {
    const { x, y, width, height } = g.node(node.name);
    nodes.set(node.name, { x: x!, y: y!, width, height });
  }
  // A group's frame is drawn around its layers' boxes (dagre's compound clusters bend edges at borders).
  const groups = new Map<string, Box>();
  for (const group of graph.groups) {
    const boxes = graph.nodes.filter((node) => node.group === group).map((node) => nodes.get(node.name)!);
    const left = Math.min(...boxes.map((b) => b.x - b.width / 2)) - GROUP_PADDING;
    const right = Math.max(...boxes.map((b) => b.x + b.width / 2)) + GROUP_PADDING;
    const top = Math.min(...boxes.map((b) => b.y - b.height / 2)) - GROUP_PADDING - LINE_HEIGHT;
    const bottom = Math.max(...boxes.map((b) => b.y + b.height / 2)) + GROUP_PADDING;
    groups.set(group, {
      x: (left + right) / 2,
      y: (top + bottom) / 2,
      width: right - left,
      height: bottom - top,
    });
  }
  const edges = graph.edges.map((e) => ({ ...e, points: g.edge(e.from, e.to).points ?? [] }));
  const { width = 0, height = 0 } = g.graph();
  return { width, height, nodes, groups, edges };
}
