import type * as tf from '@tensorflow/tfjs';
import { FONT_SIZE, layoutGraph, nodeLines } from './layout';
import { modelGraph } from './model_graph';

/** Fill colours by layer class (pastels, as in Netron/Keras-like diagrams); others grey. */
const FILL: Record<string, string> = {
  InputLayer: '#e0e0e0',
  Conv2D: '#cfe2ff',
  BatchNormalization: '#e2d9f3',
  Activation: '#fde2e4',
  MaxPooling2D: '#ffe5b4',
  AveragePooling2D: '#ffe5b4',
  GlobalAveragePooling2D: '#ffe5b4',
  LRN: '#fff3bf',
  Concatenate: '#d3f9d8',
  Dense: '#f3d9fa',
  Dropout: '#f1f3f5',
  Flatten: '#f1f3f5',
};

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' }[c]};`,
  );
}

const n = (v: number) => String(Math.round(v * 10) / 10);

type Point = { x: number; y: number };

/** A smooth path through the first and last points, bending towards the inner ones (quadratic B-spline). */
function curve(points: Point[]): string {
  if (points.length < 3) return points.map((p, i) => `${i ? 'L' : 'M'} ${n(p.x)} ${n(p.y)}`).join(' ');
  const parts = [`M ${n(points[0].x)} ${n(points[0].y)}`];
  for (let i = 1; i < points.length - 1; i++) {
    const last = i === points.length - 2;
    const to = last
      ? points[i + 1]
      : { x: (points[i].x + points[i + 1].x) / 2, y: (points[i].y + points[i + 1].y) / 2 };
    parts.push(`Q ${n(points[i].x)} ${n(points[i].y)} ${n(to.x)} ${n(to.y)}`);
  }
  return parts.join(' ');
}

/**
 * The architecture of a model as a self-contained SVG document, like Keras `plot_model(show_shapes=True)`:
 * one box per layer (name, class, output shape), arrows for connections, each inception module framed
 * with its four branches side by side. Layout by dagre; no external fonts, styles or images.
 */
export function plotModelSvg(model: tf.LayersModel): string {
  const graph = modelGraph(model);
  const layout = layoutGraph(graph);
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(layout.width)}" height="${n(layout.height)}" ` +
      `viewBox="0 0 ${n(layout.width)} ${n(layout.height)}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="${FONT_SIZE}">`,
  );
  out.push(`<title>${escapeXml(graph.name)}</title>`);
  out.push(
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
      '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  // Frames first, then their labels, so that no frame hides a neighbour's label.
  const frames = [...layout.groups].map(([group, box]) => ({
    group,
    box,
    left: box.x - box.width / 2,
    top: box.y - box.height / 2,
  }));
  for (const { group, box, left, top } of frames) {
    out.push(
      `<rect class="group" id="group-${escapeXml(group)}" x="${n(left)}" y="${n(top)}" width="${n(box.width)}" height="${n(box.height)}" rx="8" fill="#fafafa" fill-opacity="0.6" stroke="#adb5bd" stroke-dasharray="5 3"/>`,
    );
  }
  for (const { group, left, top } of frames) {
    out.push(
      `<text x="${n(left + 6)}" y="${n(top + FONT_SIZE + 2)}" font-weight="bold" fill="#495057">${escapeXml(group)}</text>`,
    );
  }
  for (const edge of layout.edges) {
    const d = curve(edge.points);
    out.push(
      `<path class="edge" data-from="${escapeXml(edge.from)}" data-to="${escapeXml(edge.to)}" d="${d}" fill="none" stroke="#555" stroke-width="1.2" marker-end="url(#arrow)"/>`,
    );
  }
  for (const node of graph.nodes) {
    const box = layout.nodes.get(node.name)!;
    const left = box.x - box.width / 2;
    const top = box.y - box.height / 2;
    const lines = nodeLines(node);
    const lineHeight = (box.height - 8) / lines.length;
    const text = lines
      .map(
        (line, i) =>
          `<text x="${n(box.x)}" y="${n(top + 4 + lineHeight * (i + 0.78))}" text-anchor="middle"${i === 0 ? ' font-weight="bold"' : ''}>${escapeXml(line)}</text>`,
      )
      .join('');
    out.push(
      `<g class="layer" id="layer-${escapeXml(node.name)}"><title>${escapeXml(`${node.name}: ${node.className}, output ${node.outputShape}, ${node.params} params`)}</title>` +
        `<rect x="${n(left)}" y="${n(top)}" width="${n(box.width)}" height="${n(box.height)}" rx="4" fill="${FILL[node.className] ?? '#e9ecef'}" stroke="#343a40"/>${text}</g>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
