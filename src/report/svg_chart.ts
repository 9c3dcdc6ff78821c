/** Escapes text for HTML and SVG content and attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];

function tick(v: number): string {
  if (v === 0 || Math.abs(v) >= 100) return v.toFixed(0);
  return Math.abs(v) < 0.01 ? v.toExponential(1) : v.toPrecision(3);
}

/** An inline SVG line chart of one or more series over epochs (no script, no external assets). */
export function lineChart(title: string, epochs: number[], series: Record<string, number[]>): string {
  const W = 420;
  const H = 240;
  const m = { l: 52, r: 12, t: 28, b: 34 };
  const values = Object.values(series)
    .flat()
    .filter((v) => Number.isFinite(v));
  if (values.length === 0 || epochs.length === 0) return '';
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const e0 = Math.min(...epochs);
  const e1 = Math.max(...epochs, e0 + 1);
  const x = (e: number) => m.l + ((e - e0) / (e1 - e0)) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - ((v - lo) / (hi - lo)) * (H - m.t - m.b);
  const lines = Object.entries(series).map(([name, vs], i) => {
    const pts = vs
      .map((v, j) => (Number.isFinite(v) ? `${x(epochs[j]).toFixed(1)},${y(v).toFixed(1)}` : ''))
      .filter(Boolean)
      .join(' ');
    const color = COLORS[i % COLORS.length];
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>
<text x="${m.l + 8 + i * 120}" y="18" fill="${color}" font-size="12">${escapeHtml(name)}</text>`;
  });
  const yTicks = [lo, (lo + hi) / 2, hi]
    .map((v) => `<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${tick(v)}</text>`)
    .join('');
  const xTicks = [e0, e1]
    .map((e) => `<text x="${x(e)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">${e}</text>`)
    .join('');
  return `<figure><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">
<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#ccc"/>
${yTicks}${xTicks}<text x="${(W + m.l) / 2}" y="${H - 4}" text-anchor="middle" font-size="11">epoch</text>
${lines.join('\n')}</svg><figcaption>${escapeHtml(title)}</figcaption></figure>`;
}
