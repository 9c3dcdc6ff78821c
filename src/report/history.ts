import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Per-epoch metric series of a training run (`loss`, `val_loss`, `acc`, ...), epochs 0-based. */
export interface TrainingHistory {
  source: string;
  epochs: number[];
  series: Record<string, number[]>;
}

export const HISTORY_FILES = ['history.json', 'history.csv'];

function fromRows(source: string, rows: { epoch: number; logs: Record<string, number> }[]): TrainingHistory {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.logs)))].sort();
  return {
    source,
    epochs: rows.map((r) => r.epoch),
    series: Object.fromEntries(keys.map((k) => [k, rows.map((r) => Number(r.logs[k] ?? Number.NaN))])),
  };
}

/**
 * Reads a history in any of the shapes a run leaves: Keras `History.history` (`{loss: [...], ...}`,
 * optionally under `history` with an `epoch` list), a list of `{epoch, logs}` rows or of flat
 * `{epoch, loss, ...}` rows, or CSVLogger's `epoch,<metrics>` CSV.
 */
export function parseHistory(source: string, text: string): TrainingHistory {
  if (source.endsWith('.csv')) {
    const lines = text.trim().split(/\r?\n/);
    const header = lines[0].split(',');
    const rows = lines.slice(1).map((line, i) => {
      const cells = line.split(',');
      const logs: Record<string, number> = {};
      header.forEach((h, j) => {
        if (h !== 'epoch') logs[h] = Number(cells[j]);
      });
      const e = header.indexOf('epoch');
      return { epoch: e >= 0 ? Number(cells[e]) : i, logs };
    });
    return fromRows(source, rows);
  }
  const data = JSON.parse(text);
  if (Array.isArray(data)) {
    return fromRows(
      source,
      data.map((r: any, i: number) => {
        const { epoch, logs, ...rest } = r;
        return { epoch: Number.isInteger(epoch) ? epoch : i, logs: logs ?? rest };
      }),
    );
  }
  const metrics = data.history && typeof data.history === 'object' ? data.history : data;
  const series: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(metrics)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) series[k] = v as number[];
  }
  const length = Math.max(0, ...Object.values(series).map((v) => v.length));
  const epochs = Array.isArray(data.epoch) ? data.epoch : Array.from({ length }, (_, i) => i);
  return { source, epochs, series };
}

/** The history of a model folder (history.json, else history.csv), or null when it has none. */
export async function loadHistory(modelDir: string): Promise<TrainingHistory | null> {
  for (const name of HISTORY_FILES) {
    const file = path.join(modelDir, name);
    const text = await fs.readFile(file, 'utf8').catch(() => null);
    if (text === null) continue;
    try {
      return parseHistory(file, text);
    } catch (e) {
      throw new Error(`${file}: not a readable training history (${(e as Error).message})`);
    }
  }
  return null;
}
