import type { ModelInfo } from '../io/model_folder';
import type { FolderEvaluation } from './evaluate_folder';
import type { TrainingHistory } from './history';
import { escapeHtml, lineChart } from './svg_chart';

export interface ReportInput {
  info: ModelInfo;
  history: TrainingHistory | null;
  evaluation?: FolderEvaluation | null;
  /** Network name and parameter count, shown in the header. */
  modelName?: string;
  parameters?: number;
}

/** Groups `loss`/`val_loss`, `acc`/`val_acc`, ... into one chart each. */
function historyCharts(history: TrainingHistory): string {
  const names = Object.keys(history.series);
  const bases = names.filter((n) => !n.startsWith('val_'));
  for (const n of names) if (n.startsWith('val_') && !bases.includes(n.slice(4))) bases.push(n.slice(4));
  return bases
    .map((base) => {
      const pair: Record<string, number[]> = {};
      if (history.series[base]) pair[base] = history.series[base];
      if (history.series[`val_${base}`]) pair[`val_${base}`] = history.series[`val_${base}`];
      return lineChart(base, history.epochs, pair);
    })
    .join('\n');
}

function confusionTable(ev: FolderEvaluation): string {
  const n = ev.classNames.length;
  const max = Math.max(1, ...ev.confusion.flat());
  const head = ev.classNames.map((c) => `<th class="rot"><span>${escapeHtml(c)}</span></th>`).join('');
  const rows = ev.confusion.map((row, t) => {
    const cells = row
      .map((count, p) => {
        const alpha = (count / max).toFixed(3);
        const hue = t === p ? '22,163,74' : '220,38,38';
        return `<td style="background:rgba(${hue},${alpha})" title="true ${escapeHtml(ev.classNames[t])}, predicted ${escapeHtml(ev.classNames[p])}">${count}</td>`;
      })
      .join('');
    return `<tr><th>${escapeHtml(ev.classNames[t])}</th>${cells}</tr>`;
  });
  return `<table class="confusion"><caption>rows: true class · columns: predicted (${n} classes)</caption>
<tr><th></th>${head}</tr>${rows.join('\n')}</table>`;
}

function perClassTable(ev: FolderEvaluation): string {
  const rows = ev.classNames.map((c, i) => {
    const total = ev.confusion[i].reduce((a, b) => a + b, 0);
    const acc = total ? ev.confusion[i][i] / total : 0;
    return `<tr><td>${escapeHtml(c)}</td><td>${ev.confusion[i][i]} / ${total}</td><td><div class="bar"><span style="width:${(acc * 100).toFixed(1)}%"></span></div> ${(acc * 100).toFixed(1)}%</td></tr>`;
  });
  return `<table class="per-class"><tr><th>class</th><th>correct</th><th>accuracy</th></tr>${rows.join('\n')}</table>`;
}

function sampleGrid(ev: FolderEvaluation): string {
  const cells = ev.samples.map((s) => {
    const ok = s.predicted === s.trueLabel;
    return `<figure class="sample ${ok ? 'right' : 'wrong'}"><img src="${s.image}" alt="${escapeHtml(s.file)}">
<figcaption><b>${ok ? '✓' : '✗'} ${escapeHtml(ev.classNames[s.predicted])}</b> ${(s.probability * 100).toFixed(0)}%<br>true: ${escapeHtml(ev.classNames[s.trueLabel])}</figcaption></figure>`;
  });
  return `<div class="grid">${cells.join('\n')}</div>`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:24px;color:#111;max-width:1100px}
h1{margin-bottom:4px}.meta{color:#555}section{margin:28px 0}figure{display:inline-block;margin:8px}
figcaption{text-align:center;font-size:12px;color:#333}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}.confusion td{min-width:28px}
th.rot{height:90px;vertical-align:bottom}th.rot span{writing-mode:vertical-rl;transform:rotate(180deg)}
.per-class td:first-child{text-align:left}.bar{display:inline-block;width:120px;height:10px;background:#eee}
.bar span{display:block;height:100%;background:#16a34a}.grid{display:flex;flex-wrap:wrap}
.sample{width:112px;border:3px solid;border-radius:4px;padding:2px}.sample img{width:96px;height:96px;object-fit:contain;image-rendering:pixelated}
.right{border-color:#16a34a}.wrong{border-color:#dc2626}.note{color:#666}`;

/** The report as one self-contained HTML document: inline CSS and SVG, images as data URIs, no script. */
export function renderReport(input: ReportInput): string {
  const { info, history, evaluation: ev } = input;
  const title = `${input.modelName ?? info.model} report`;
  const meta = [
    `builder ${escapeHtml(info.model)} (width ×${info.widthMultiplier})`,
    `input ${info.preprocessing.inputShape.join('×')}`,
    `${info.labels.length} classes`,
    input.parameters !== undefined ? `${input.parameters.toLocaleString('en-US')} parameters` : '',
  ].filter(Boolean);
  const curves = history
    ? `<p class="note">from ${escapeHtml(history.source)}</p>${historyCharts(history)}`
    : '<p class="note">No history.json or history.csv in the model folder.</p>';
  const evaluation = ev
    ? `<section><h2>Evaluation on ${escapeHtml(ev.dir)}</h2><p><b>accuracy ${((ev.correct / Math.max(1, ev.total)) * 100).toFixed(2)}%</b> (${ev.correct} / ${ev.total})</p>
<h3>Confusion matrix</h3>${confusionTable(ev)}
<h3>Per-class accuracy</h3>${perClassTable(ev)}
<h3>Sample predictions</h3>${sampleGrid(ev)}</section>`
    : '<section><h2>Evaluation</h2><p class="note">No data folder given: run <code>inception report --model-dir DIR --data DIR</code> for the confusion matrix, per-class accuracy and sample predictions.</p></section>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1><p class="meta">${meta.join(' · ')}</p>
<p class="meta">classes: ${info.labels.map(escapeHtml).join(', ')}</p>
<section><h2>Training curves</h2>${curves}</section>
${evaluation}
</body></html>
`;
}
