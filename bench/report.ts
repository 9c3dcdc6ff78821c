import type { BenchReport } from './runner';
import type { SectionReport } from './types';

/** Numbers with the digits that matter at their size; absent values as a dash. */
export function formatCell(value: unknown, digits?: number): string {
  if (value === null || value === undefined) return '—';
  if (typeof value !== 'number') return String(value);
  if (digits !== undefined) return value.toFixed(digits);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

/** A plain-text table: a header, then one line per row; a row that did not run says why. */
export function formatTable(section: SectionReport): string[] {
  const { columns, rows } = section;
  if (!columns.length) return [];
  const cells = rows.map((row) =>
    row.status === undefined || row.status === 'ok'
      ? columns.map((c) => formatCell(row[c.key], c.digits))
      : null,
  );
  const widths = columns.map((c, i) =>
    Math.max(
      c.label.length,
      ...cells.map((r, j) => (r ? r[i].length : i === 0 ? String(rows[j][c.key]).length : 0)),
    ),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.label))];
  rows.forEach((row, j) => {
    const r = cells[j];
    if (r) out.push(line(r));
    else
      out.push(
        `${String(row[columns[0].key]).padEnd(widths[0])}  ${row.status} (${row.reason ?? 'no reason given'})`,
      );
  });
  return out;
}

function formatSection(section: SectionReport): string[] {
  const gflop =
    typeof section.gflopPerImage === 'number' ? ` (${section.gflopPerImage.toFixed(2)} GFLOP/image)` : '';
  const head = `== ${section.title}${gflop} [${section.id}]`;
  if (section.status !== 'ok') return [head, `${section.status} (${section.reason ?? 'no reason given'})`];
  const rowNotes = section.rows.flatMap((row) =>
    Array.isArray(row.notes) ? row.notes.map((n) => `note (${row[section.columns[0].key]}): ${n}`) : [],
  );
  const notes = [...(section.notes ?? []).map((n) => `note: ${n}`), ...rowNotes];
  return [head, ...formatTable(section), ...notes];
}

function versionText(versions: Record<string, string> | undefined): string {
  return Object.entries(versions ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** The ISA line: oneDNN's dispatch ISA and the measured peak of each precision (or why it is missing). */
export function peakLine(report: Pick<BenchReport, 'peaks'>): string {
  const { peaks } = report;
  if (!peaks.ok) return `ISA: peak not measured (${peaks.reason})`;
  const each = Object.entries(peaks.peaks).map(([precision, p]) =>
    p
      ? `${precision} ${p.gflops.toFixed(0)} (${p.isa}; ${p.wallGflops.toFixed(0)} over wall time)`
      : `${precision} none (no instruction on this CPU)`,
  );
  const threads = Object.values(peaks.peaks).find((p) => p)?.threads;
  return `ISA: oneDNN ${peaks.cpuIsa}; measured multiply-accumulate peak on ${threads} threads, GFLOP/s over the threads' CPU time: ${each.join(', ')}`;
}

/** The human-readable report: machine, engines with versions, then one table per section. */
export function formatReport(report: BenchReport): string {
  const m = report.machine;
  const busy = m.loadAverageAtStart > 0.5 ? ' (the machine was busy: timings are noisy)' : '';
  const lines = [
    `inception bench: ${report.model.name}${report.model.width === 1 ? '' : ` width ${report.model.width}`}, ${report.model.classes} classes, ${report.model.params.toLocaleString('en-US')} params; ${report.options.threads} threads per engine${report.options.quick ? '; --quick' : ''}`,
    `machine: ${m.cpu}, ${m.cores} cores (${m.simd.join(' ')}), ${m.memoryGiB} GiB, ${m.os}, node ${m.node}; load average at start ${m.loadAverageAtStart.toFixed(2)}${busy}`,
    `FLOPs: ${report.model.flopConvention}; forward ${Object.entries(report.model.forwardGflopPerImage)
      .map(([size, g]) => `${g.toFixed(3)} GFLOP/image at ${size}`)
      .join(', ')}`,
    peakLine(report),
    `times: median of the timed steps after warm-up; "vs ${report.referenceEngine}" = engine's time / ${report.referenceEngine}'s time (above 1: ${report.referenceEngine} is faster); "% peak" = GFLOP/s over the peak of the row's precision (int8: integer operations)`,
    "training: the Adam update is inception-net's FusedAdamOptimizer on tfjs engines (what `inception train` uses) and torch.optim.Adam on PyTorch",
    'engines:',
  ];
  const width = Math.max(...report.engines.map((e) => e.label.length));
  for (const e of report.engines) {
    const detail =
      e.status === 'ok'
        ? `${versionText(e.versions)}${e.threads ? `; ${e.threads} thread${e.threads > 1 ? 's' : ''}` : ''}${e.notes?.length ? `; ${e.notes.join('; ')}` : ''}`
        : `${e.status} (${e.reason})`;
    lines.push(`  ${e.label.padEnd(width)}  ${detail}`);
  }
  const tables = report.targets.rows.length ? [...report.sections, report.targets] : report.sections;
  for (const section of tables) lines.push('', ...formatSection(section));
  lines.push('', `finished in ${report.durationSeconds.toFixed(0)} s`);
  return lines.join('\n');
}
