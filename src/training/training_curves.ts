import type { HistoryRow } from './csv_logger';

const PANEL_W = 420;
const PANEL_H = 260;
const MARGIN = { left: 56, right: 16, top: 34, bottom: 44 };
const COLOURS = { train: '#1f77b4', val: '#ff7f0e' };

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string,
  );
}

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const step = [1, 2, 5, 10]
    .map((m) => m * 10 ** Math.floor(Math.log10(raw)))
    .find((s) => s >= raw) as number;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** One panel: `metric` and `val_metric` per epoch (1-based on the x axis). */
function panel(rows: HistoryRow[], metric: string, title: string, x0: number): string {
  const series = [
    { key: metric, label: 'train', colour: COLOURS.train },
    { key: `val_${metric}`, label: 'val', colour: COLOURS.val },
  ]
    .map((s) => ({
      ...s,
      points: rows.filter((r) => Number.isFinite(r.logs[s.key])).map((r) => [r.epoch + 1, r.logs[s.key]]),
    }))
    .filter((s) => s.points.length > 0);
  const parts = [`<g transform="translate(${x0},0)">`];
  parts.push(
    `<text x="${PANEL_W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  );
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
  );
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    parts.push(
      `<text x="${PANEL_W / 2}" y="${PANEL_H / 2}" text-anchor="middle" fill="#888">no data</text></g>`,
    );
    return parts.join('');
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [xMin, xMax] = [Math.min(...xs), Math.max(Math.max(...xs), Math.min(...xs) + 1)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (metric !== 'loss') [yMin, yMax] = [Math.min(0, yMin), Math.max(1, yMax)];
  if (yMax === yMin) yMax = yMin + 1;
  const sx = (v: number) => MARGIN.left + ((v - xMin) / (xMax - xMin)) * plotW;
  const sy = (v: number) => MARGIN.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  for (const t of ticks(yMin, yMax)) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${t}</text>`,
    );
  }
  for (const t of ticks(xMin, xMax, Math.min(8, xMax - xMin)).filter(Number.isInteger)) {
    parts.push(
      `<text x="${sx(t)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" font-size="11">${t}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${PANEL_H - 8}" text-anchor="middle" font-size="12">epoch</text>`,
  );
  series.forEach((s, i) => {
    const d = s.points
      .map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
    for (const [x, y] of s.points) {
      parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.colour}"/>`);
    }
    const ly = MARGIN.top + 14 + i * 16;
    const lx = MARGIN.left + plotW - 70;
    parts.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.colour}" stroke-width="2"/>`,
      `<text x="${lx + 24}" y="${ly}" font-size="11">${s.label}</text>`,
    );
  });
  parts.push('</g>');
  return parts.join('');
}

/** A self-contained SVG of the training curves: loss and accuracy per epoch, train and validation. */
export function trainingCurvesSvg(rows: HistoryRow[], title = 'training curves'): string {
  const width = PANEL_W * 2;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_H}" viewBox="0 0 ${width} ${PANEL_H}" font-family="sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    panel(rows, 'loss', 'loss', 0),
    panel(rows, 'accuracy', 'accuracy', PANEL_W),
    '</svg>',
    '',
  ].join('\n');
}
