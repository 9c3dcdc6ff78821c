import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { resolveAtomicDir, writeDirAtomic, writeError } from '../io/atomic';
import { folderLoader, folderSaver, refuseNonFiniteWeights } from '../io/model_folder';
import type { CallbackState } from './callback';
import type { TrainingSnapshot } from './fit';

/** Files of a training checkpoint folder (`checkpoints/last`), beside the model's model.json + weights.bin. */
export const STATE_JSON = 'state.json';
export const STATE_BIN = 'state.bin';
const STATE_VERSION = 1;

/** A tensor with a name, as optimizer.getWeights() returns them. */
export type NamedTensor = { name: string; tensor: tf.Tensor };

/** A checkpoint read back: the snapshot (callback tensors included), the network, the optimizer's weights. */
export interface LoadedCheckpoint<Meta = unknown> {
  dir: string;
  snapshot: TrainingSnapshot;
  /** The network as saved, weights included. */
  model: tf.LayersModel;
  /** `optimizer.getWeights()` as saved (iterations first). */
  optimizerWeights: NamedTensor[];
  /** What the caller stored with the checkpoint (training options, seed, ...). */
  meta: Meta;
  /** Class of the optimizer whose state this is (`Adam`, ...). */
  optimizerClass: string;
}

interface StateJson {
  version: number;
  snapshot: Omit<TrainingSnapshot, 'callbacks'> & {
    callbacks: Record<string, { values: Record<string, unknown>; tensors: number }>;
  };
  optimizer: { className: string; weights: number };
  weightSpecs: tf.io.WeightsManifestEntry[];
  meta: unknown;
}

/** fs.writeFile whose errors (ENOSPC above all) name the file. */
async function writeNamed(file: string, data: string | Uint8Array): Promise<void> {
  await fs.writeFile(file, data).catch((e: unknown) => {
    throw writeError(file, e);
  });
}

/**
 * Writes a resumable checkpoint into `dir`, replacing it atomically as a whole: the network (model.json +
 * weights.bin, loadable on its own), the optimizer's weights and the callbacks' tensors (state.bin), and the
 * snapshot plus `meta` (state.json).
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  snapshot: TrainingSnapshot,
  meta: unknown,
): Promise<void> {
  const optimizer = model.optimizer;
  const optimizerWeights = await optimizer.getWeights();
  // Names get an index prefix: tf.io weight specs must be unique, and optimizers match weights by position.
  const named: NamedTensor[] = optimizerWeights.map((w, i) => ({
    name: `optimizer/${i}/${w.name}`,
    tensor: w.tensor,
  }));
  const callbacks: StateJson['snapshot']['callbacks'] = {};
  for (const [key, state] of Object.entries(snapshot.callbacks)) {
    const tensors = state.tensors ?? [];
    tensors.forEach((t, i) => {
      named.push({ name: `callbacks/${key}/${i}`, tensor: t });
    });
    callbacks[key] = { values: state.values, tensors: tensors.length };
  }
  const { data, specs } = await tf.io.encodeWeights(named);
  // The iterations scalar was created for us by getWeights.
  tf.dispose(optimizerWeights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  refuseNonFiniteWeights(path.join(dir, STATE_BIN), specs, data);
  const state: StateJson = {
    version: STATE_VERSION,
    snapshot: { ...snapshot, callbacks },
    optimizer: { className: optimizer.getClassName(), weights: optimizerWeights.length },
    weightSpecs: specs,
    meta,
  };
  await writeDirAtomic(dir, async (tmp) => {
    await model.save(folderSaver(tmp));
    await writeNamed(path.join(tmp, STATE_BIN), new Uint8Array(data));
    await writeNamed(path.join(tmp, STATE_JSON), `${JSON.stringify(state, null, 1)}\n`);
  });
}

/** Reads a checkpoint written by saveCheckpoint; errors name the file and the problem. */
export async function loadCheckpoint<Meta = unknown>(dirWanted: string): Promise<LoadedCheckpoint<Meta>> {
  const dir = await resolveAtomicDir(dirWanted);
  if (!dir) throw new Error(`${dirWanted}: no checkpoint to resume from`);
  const jsonPath = path.join(dir, STATE_JSON);
  let state: StateJson;
  try {
    state = JSON.parse(await fs.readFile(jsonPath, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${jsonPath}: ${code === 'ENOENT' ? 'no such file' : 'not valid JSON'}`);
  }
  if (state.version !== STATE_VERSION)
    throw new Error(`${jsonPath}: unsupported checkpoint version ${state.version}`);
  const binPath = path.join(dir, STATE_BIN);
  const bin = await fs.readFile(binPath).catch(() => {
    throw new Error(`${binPath}: no such file`);
  });
  const expected = state.weightSpecs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bin.byteLength !== expected) {
    throw new Error(
      `${binPath}: ${bin.byteLength} bytes but ${STATE_JSON} describes ${expected} (truncated?)`,
    );
  }
  const tensors = tf.io.decodeWeights(
    bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
    state.weightSpecs,
  );
  const optimizerWeights: NamedTensor[] = [];
  for (let i = 0; i < state.optimizer.weights; i++) {
    const spec = state.weightSpecs[i];
    optimizerWeights.push({ name: spec.name.replace(/^optimizer\/\d+\//, ''), tensor: tensors[spec.name] });
  }
  const callbacks: Record<string, CallbackState> = {};
  for (const [key, s] of Object.entries(state.snapshot.callbacks)) {
    callbacks[key] = {
      values: s.values,
      tensors: s.tensors
        ? Array.from({ length: s.tensors }, (_, i) => tensors[`callbacks/${key}/${i}`])
        : undefined,
    };
  }
  const model = await tf.loadLayersModel(folderLoader(dir));
  return {
    dir,
    snapshot: { ...state.snapshot, callbacks },
    model,
    optimizerWeights,
    meta: state.meta as Meta,
    optimizerClass: state.optimizer.className,
  };
}

/** Puts the saved optimizer state into a fresh optimizer of the same kind (before its first step). */
export async function restoreOptimizer(optimizer: tf.Optimizer, checkpoint: LoadedCheckpoint): Promise<void> {
  if (optimizer.getClassName() !== checkpoint.optimizerClass) {
    throw new Error(
      `${checkpoint.dir}: the checkpoint holds ${checkpoint.optimizerClass} state, not ${optimizer.getClassName()}`,
    );
  }
  if (checkpoint.optimizerWeights.length > 0) await optimizer.setWeights(checkpoint.optimizerWeights);
  tf.dispose(checkpoint.optimizerWeights.map((w) => w.tensor));
}

/** Frees the tensors a loaded checkpoint still holds (callback tensors; the model is the caller's). */
export function disposeCheckpointState(checkpoint: LoadedCheckpoint): void {
  for (const s of Object.values(checkpoint.snapshot.callbacks)) if (s.tensors) tf.dispose(s.tensors);
}
