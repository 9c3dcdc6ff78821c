import { BaseCallback, type Logs } from './callback';

/** Where the bar writes: process.stdout, process.stderr, or anything with write(). */
export interface WritableText {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressBarArgs {
  /** Default process.stdout. */
  stream?: WritableText;
  /** Redraw one line with carriage returns; default: whether the stream is a TTY. */
  dynamic?: boolean;
  /** Seconds between plain progress lines when not dynamic (the epoch's last line is always written). */
  interval?: number;
  /** Bar width in characters (Keras: 30). */
  width?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** Keras `_format_time` for ETA: `3s`, `1:05`, `1:02:03`. */
export function formatEta(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `${s}s`;
}

/** Keras per-step time: `2s/step`, `120ms/step`, `80us/step`. */
export function formatStepTime(seconds: number): string {
  if (seconds >= 1) return `${seconds.toFixed(0)}s/step`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(0)}ms/step`;
  return `${(seconds * 1e6).toFixed(0)}us/step`;
}

/** Keras metric value: `%.4f`, or Python's `%.4e` (two-digit exponent) for values up to 1e-3. */
export function formatValue(v: number): string {
  if (Math.abs(v) > 1e-3) return v.toFixed(4);
  return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** `12/40 [=======>......................]` exactly as Keras's Progbar draws it. */
export function formatBar(current: number, target: number, width = 30): string {
  const digits = String(target).length;
  const progWidth = Math.floor((width * current) / target);
  let bar = '';
  if (progWidth > 0) bar += `${'='.repeat(progWidth - 1)}${current < target ? '>' : '='}`;
  bar += '.'.repeat(width - progWidth);
  return `${String(current).padStart(digits)}/${target} [${bar}]`;
}

function formatLogs(logs: Logs): string {
  return Object.entries(logs)
    .map(([k, v]) => ` - ${k}: ${formatValue(v)}`)
    .join('');
}

/**
 * Keras's verbose=1 progress bar: `Epoch 3/10`, a step bar with ETA and running metrics, and a final line
 * per epoch with the time, time per step and all metrics (validation and lr included). On a TTY the line is
 * redrawn with carriage returns; otherwise plain lines every `interval` seconds and at the epoch end.
 */
export class ProgressBar extends BaseCallback {
  readonly name = 'progress_bar';
  private readonly stream: WritableText;
  private readonly dynamic: boolean;
  private readonly interval: number;
  private readonly width: number;
  private readonly now: () => number;
  private epochStart = 0;
  private firstStep = 0;
  private lastStep = 0;
  private lastWrite = 0;
  private lastLength = 0;

  constructor(args: ProgressBarArgs = {}) {
    super();
    this.stream = args.stream ?? process.stdout;
    this.dynamic = args.dynamic ?? Boolean(this.stream.isTTY);
    this.interval = (args.interval ?? 10) * 1000;
    this.width = args.width ?? 30;
    this.now = args.now ?? Date.now;
  }

  onEpochBegin(epoch: number, logs: Logs): void {
    this.stream.write(`Epoch ${epoch + 1}/${this.ctx.epochs}\n`);
    this.epochStart = this.now();
    this.lastWrite = this.epochStart;
    // A run resumed mid-epoch starts counting at the step it stopped at.
    this.firstStep = logs.step ?? 0;
    this.lastStep = this.firstStep;
    this.lastLength = 0;
  }

  onBatchEnd(batch: number, logs: Logs): void {
    const target = this.ctx.stepsPerEpoch;
    const current = batch + 1;
    this.lastStep = current;
    if (current >= target) return; // the epoch-end line follows
    const now = this.now();
    if (!this.dynamic && now - this.lastWrite < this.interval) return;
    this.lastWrite = now;
    const perStep = (now - this.epochStart) / 1000 / Math.max(1, current - this.firstStep);
    this.emit(
      `${formatBar(current, target, this.width)} - ETA: ${formatEta(perStep * (target - current))}${formatLogs(logs)}`,
    );
  }

  onEpochEnd(_epoch: number, logs: Logs): void {
    const target = this.ctx.stepsPerEpoch;
    const seconds = (this.now() - this.epochStart) / 1000;
    const steps = Math.max(1, this.lastStep - this.firstStep);
    this.emit(
      `${formatBar(target, target, this.width)} - ${seconds.toFixed(0)}s ${formatStepTime(seconds / steps)}${formatLogs(logs)}`,
    );
    if (this.dynamic) this.stream.write('\n');
  }

  private emit(line: string): void {
    if (!this.dynamic) {
      this.stream.write(`${line}\n`);
      return;
    }
    const pad = Math.max(0, this.lastLength - line.length);
    this.stream.write(`\r${line}${' '.repeat(pad)}`);
    this.lastLength = line.length;
  }
}

export function progressBar(args: ProgressBarArgs = {}): ProgressBar {
  return new ProgressBar(args);
}
