import type * as tf from '@tensorflow/tfjs';
import { writeDirAtomic } from '../io/atomic';
import { folderSaver } from '../io/model_folder';
import {
  BaseCallback,
  type CallbackState,
  type Logs,
  type Mode,
  missingMonitor,
  monitorIsMax,
  type Printer,
  parseBest,
  serialiseBest,
} from './callback';

/** Writes a model into a fresh folder (the model folder format by default: model.json + weights.bin). */
export type ModelSaver = (model: tf.LayersModel, dir: string) => Promise<void>;

export interface ModelCheckpointArgs {
  /** Folder to save into; may hold Keras-style fields: `ckpt-{epoch:02d}-{val_loss:.2f}`. */
  filepath: string;
  /** Quantity to watch. Default 'val_loss'. */
  monitor?: string;
  verbose?: number;
  /** Save only when `monitor` improves on the best value so far. Default false (save every epoch). */
  saveBestOnly?: boolean;
  mode?: Mode;
  /** Only values better than this are saved (Keras `initial_value_threshold`). */
  initialValueThreshold?: number;
  /** How to write the model; the training pipeline passes one that writes a complete model folder. */
  save?: ModelSaver;
  print?: Printer;
}

/** Fills `{epoch}`, `{epoch:02d}`, `{val_loss:.4f}` from the 1-based epoch and the logs, as Keras does. */
export function formatFilepath(template: string, epoch: number, logs: Logs): string {
  return template.replace(
    /\{(\w+)(?::(0?)(\d*)(?:\.(\d+))?([df]))?\}/g,
    (_match, key, zero, width, prec, kind) => {
      const value = key === 'epoch' ? epoch + 1 : logs[key];
      if (value === undefined)
        throw new Error(`modelCheckpoint: filepath ${template} names unknown key ${key}`);
      let text =
        kind === 'd' ? String(Math.round(value)) : prec ? value.toFixed(Number(prec)) : String(value);
      if (width) text = text.padStart(Number(width), zero ? '0' : ' ');
      return text;
    },
  );
}

/**
 * Keras `ModelCheckpoint`: saves the model at the end of every epoch, or with `saveBestOnly` only when
 * `monitor` improved. Each save replaces the folder atomically.
 */
export class ModelCheckpoint extends BaseCallback {
  readonly name = 'model_checkpoint';
  readonly filepath: string;
  readonly monitor: string;
  readonly saveBestOnly: boolean;
  readonly verbose: number;
  private readonly isMax: boolean;
  private readonly save: ModelSaver;
  private readonly print: Printer;
  private readonly initialBest: number;
  best: number;
  /** Epoch (0-based) of the last save, -1 before any. */
  lastSavedEpoch = -1;

  constructor(args: ModelCheckpointArgs) {
    super();
    if (!args?.filepath) throw new Error('modelCheckpoint: filepath is required');
    this.filepath = args.filepath;
    this.monitor = args.monitor ?? 'val_loss';
    this.saveBestOnly = args.saveBestOnly ?? false;
    this.verbose = args.verbose ?? 0;
    this.print = args.print ?? console.log;
    this.save = args.save ?? ((model, dir) => model.save(folderSaver(dir)).then(() => undefined));
    this.isMax = monitorIsMax(this.monitor, args.mode ?? 'auto', 'modelCheckpoint');
    this.initialBest = args.initialValueThreshold ?? (this.isMax ? -Infinity : Infinity);
    this.best = this.initialBest;
  }

  onTrainBegin(): void {
    this.best = this.initialBest;
    this.lastSavedEpoch = -1;
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const dir = formatFilepath(this.filepath, epoch, logs);
    if (this.saveBestOnly) {
      const current = logs[this.monitor];
      if (current === undefined) {
        missingMonitor('modelCheckpoint', this.monitor, logs, this.print);
        return;
      }
      const improved = this.isMax ? current > this.best : current < this.best;
      if (!improved) {
        if (this.verbose > 0) {
          this.print(`Epoch ${epoch + 1}: ${this.monitor} did not improve from ${this.best.toFixed(5)}`);
        }
        return;
      }
      if (this.verbose > 0) {
        this.print(
          `Epoch ${epoch + 1}: ${this.monitor} improved from ${this.best.toFixed(5)} to ${current.toFixed(5)}, saving model to ${dir}`,
        );
      }
      this.best = current;
    } else if (this.verbose > 0) {
      this.print(`Epoch ${epoch + 1}: saving model to ${dir}`);
    }
    await writeDirAtomic(dir, (tmp) => this.save(this.ctx.model, tmp));
    this.lastSavedEpoch = epoch;
  }

  getState(): CallbackState {
    return { values: { best: serialiseBest(this.best), lastSavedEpoch: this.lastSavedEpoch } };
  }

  setState(state: CallbackState): void {
    this.best = parseBest(state.values.best);
    this.lastSavedEpoch = Number(state.values.lastSavedEpoch);
  }
}

export function modelCheckpoint(args: ModelCheckpointArgs): ModelCheckpoint {
  return new ModelCheckpoint(args);
}
