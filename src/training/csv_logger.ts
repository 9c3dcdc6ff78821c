import { writeFileAtomic } from '../io/atomic';
import type { Callback, CallbackState, Logs } from './callback';

/** One epoch's row of a history: `epoch` (0-based, as Keras writes it) and the metric values. */
export interface HistoryRow {
  epoch: number;
  logs: Logs;
}

/** Keras CSVLogger's format: header `epoch,<sorted metric names>`, one row per epoch. */
export function formatHistoryCsv(rows: HistoryRow[], separator = ','): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.logs)))].sort();
  const lines = [['epoch', ...keys].join(separator)];
  for (const r of rows) lines.push([r.epoch, ...keys.map((k) => r.logs[k] ?? '')].join(separator));
  return `${lines.join('\n')}\n`;
}

/**
 * Keras `CSVLogger`: one row per epoch. The whole file is rewritten atomically each epoch from the rows kept in
 * the callback's state, so a resumed run continues the same file and a crash never leaves half a line.
 * With `append`, rows of an earlier file given through setState are kept.
 */
export class CSVLogger implements Callback {
  readonly name = 'csv_logger';
  rows: HistoryRow[] = [];

  constructor(
    readonly filename: string,
    readonly separator = ',',
    readonly append = false,
  ) {
    if (!filename) throw new Error('csvLogger: filename is required');
  }

  onTrainBegin(): void {
    if (!this.append) this.rows = [];
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    this.rows = this.rows.filter((r) => r.epoch !== epoch);
    this.rows.push({ epoch, logs: { ...logs } });
    await writeFileAtomic(this.filename, formatHistoryCsv(this.rows, this.separator));
  }

  getState(): CallbackState {
    return { values: { rows: this.rows } };
  }

  setState(state: CallbackState): void {
    this.rows = (state.values.rows as HistoryRow[]) ?? [];
  }
}

export function csvLogger(filename: string, separator = ',', append = false): CSVLogger {
  return new CSVLogger(filename, separator, append);
}
