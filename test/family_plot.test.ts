import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import sharp from 'sharp';
import { googlenetPaper, inceptionModule, plotModelPng, plotModelSvg, tf } from '../src/index';

type Element = Record<string, any>;
const asList = (v: unknown): Element[] => (v === undefined ? [] : Array.isArray(v) ? v : [v as Element]);

/** Parses an SVG document strictly: well-formed XML, an <svg> root in the SVG namespace. */
function parseSvg(svg: string): Element {
  assert.equal(XMLValidator.validate(svg), true, 'well-formed XML');
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg);
  assert.equal(doc.svg.xmlns, 'http://www.w3.org/2000/svg');
  assert.ok(!/href=|<image|<script|@import|url\((?!#)/.test(svg), 'self-contained: no external references');
  return doc.svg;
}

function layerBoxes(root: Element): Map<string, { x: number; y: number; text: string[] }> {
  const boxes = new Map<string, { x: number; y: number; text: string[] }>();
  for (const g of asList(root.g)) {
    if (g.class !== 'layer') continue;
    const rect = g.rect as Element;
    const text = asList(g.text).map((t) => String(typeof t === 'object' ? t['#text'] : t));
    boxes.set(String(g.id).replace(/^layer-/, ''), { x: Number(rect.x), y: Number(rect.y), text });
  }
  return boxes;
}

test('plot: valid self-contained SVG with every layer (name, class, output shape) and every connection', () => {
  const model = googlenetPaper({ auxClassifiers: true, inputShape: [64, 64, 3], widthMultiplier: 0.1 });
  const svg = plotModelSvg(model);
  const root = parseSvg(svg);
  assert.ok(Number(root.width) > 0 && Number(root.height) > 0);
  const boxes = layerBoxes(root);
  assert.deepEqual([...boxes.keys()].sort(), model.layers.map((l) => l.name).sort());
  for (const layer of model.layers) {
    const box = boxes.get(layer.name)!;
    assert.ok(Number.isFinite(box.x) && Number.isFinite(box.y), layer.name);
    const shape = `(${(layer.outputShape as (number | null)[]).map((d) => (d === null ? 'None' : d)).join(', ')}${(layer.outputShape as unknown[]).length === 1 ? ',' : ''})`;
    assert.deepEqual(box.text, [layer.name, layer.getClassName(), shape]);
  }
  const edges = asList(root.path).filter((p) => p.class === 'edge');
  const expected = model.layers.flatMap((l) =>
    l.inboundNodes.flatMap((n) => n.inboundLayers.map((i) => `${i.name}->${l.name}`)),
  );
  assert.deepEqual(edges.map((e) => `${e['data-from']}->${e['data-to']}`).sort(), expected.sort());
  assert.ok(
    edges.every((e) => /^M [\d.-]+ [\d.-]+( [LQ] [\d .-]+)+$/.test(e.d)),
    'edge paths are finite',
  );
  // Every inception module is framed, and its four branches stand side by side in order.
  const frames = asList(root.rect)
    .filter((r) => r.class === 'group')
    .map((r) => r.id);
  for (const name of ['inception_3a', 'inception_4d', 'inception_5b', 'aux_1', 'aux_2'])
    assert.ok(frames.includes(`group-${name}`));
  for (const m of ['inception_3a', 'inception_4e', 'inception_5b']) {
    const top = ['1x1', '3x3_reduce', '5x5_reduce', 'pool'].map((s) => boxes.get(`${m}_${s}`)!);
    assert.ok(
      top.every((b) => b.y === top[0].y),
      `${m}: branches start on one rank`,
    );
    assert.ok(
      top.every((b, i) => i === 0 || top[i - 1].x < b.x),
      `${m}: branches in order left to right`,
    );
  }
  model.dispose();
});

test('plot: PNG rasterises the same drawing', async () => {
  const input = tf.input({ shape: [8, 8, 4], name: 'input' });
  const filters = {
    filters1x1: 2,
    filters3x3Reduce: 2,
    filters3x3: 3,
    filters5x5Reduce: 1,
    filters5x5: 2,
    filtersPoolReduce: 2,
  };
  const model = tf.model({ inputs: input, outputs: inceptionModule(input, filters, 'mixed') });
  const png = await plotModelPng(model);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const meta = await sharp(png).metadata();
  const root = parseSvg(plotModelSvg(model));
  assert.equal(meta.format, 'png');
  assert.ok(Math.abs(meta.width! - (Number(root.width) * 96) / 72) <= 2, `${meta.width} vs ${root.width}`);
});

test('inception plot: writes the file, rejects a bad --out', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'inception-plot-'));
  try {
    const cli = path.join(__dirname, '..', 'src', 'cli', 'main.js');
    const out = path.join(dir, 'net.svg');
    const env = { ...process.env, INCEPTION_BACKEND: 'cpu' };
    const stdout = execFileSync(
      process.execPath,
      [cli, 'plot', '--model', 'googlenet-cifar', '--width', '0.1', '--out', out, '--json'],
      { env, encoding: 'utf8' },
    );
    const report = JSON.parse(stdout);
    assert.equal(report.format, 'svg');
    const root = parseSvg(readFileSync(out, 'utf8'));
    assert.equal(layerBoxes(root).size, report.layers);
    assert.ok(layerBoxes(root).has('conv_1_3x3_1_bn'));
    const bad = spawnSync(process.execPath, [cli, 'plot', '--out', path.join(dir, 'net.gif')], {
      env,
      encoding: 'utf8',
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--out must end in \.svg or \.png, got ".*net\.gif"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
