import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../io/atomic';
import { quantizeFloat16 } from '../io/float16';
import { INFO_JSON, LABELS_JSON, MODEL_JSON, type ModelInfo, PREPROCESSING_JSON } from '../io/model_folder';

/** tfjs-converter's shard size: small enough for browser caches, few enough files for HTTP. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export interface TfjsExportOptions {
  /** Store float32 weights as float16 (half the size; tfjs dequantises on load). Default false. */
  float16?: boolean;
}

/** The files of a tfjs web export, by file name. */
export type ExportFiles = Map<string, Uint8Array>;

async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return captured!;
}

/**
 * The model as plain `@tensorflow/tfjs` loads it over HTTP (`tf.loadLayersModel(url + '/model.json')`):
 * model.json (no training config: a deployed model is not compiled) and weight shards of at most
 * SHARD_BYTES named as tfjs-converter names them, plus labels.json, preprocessing.json and model-info.json.
 * Custom layers (LRN) must be registered on the loading side first: `web/custom_layers.ts` does that.
 */
export async function tfjsExportFiles(
  model: tf.LayersModel,
  info: ModelInfo,
  options: TfjsExportOptions = {},
): Promise<ExportFiles> {
  const saved = await artifactsOf(model);
  const artifacts = options.float16 ? quantizeFloat16(saved) : saved;
  const weights = new Uint8Array(tf.io.concatenateArrayBuffers([artifacts.weightData ?? []].flat()));
  const count = Math.max(1, Math.ceil(weights.byteLength / SHARD_BYTES));
  const files: ExportFiles = new Map();
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `group1-shard${i + 1}of${count}.bin`;
    paths.push(name);
    files.set(name, weights.subarray(i * SHARD_BYTES, Math.min((i + 1) * SHARD_BYTES, weights.byteLength)));
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: 'inception-net export --format tfjs',
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
  };
  const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  files.set(MODEL_JSON, new TextEncoder().encode(JSON.stringify(modelJson)));
  files.set(LABELS_JSON, json(info.labels));
  files.set(PREPROCESSING_JSON, json(info.preprocessing));
  files.set(INFO_JSON, json({ model: info.model, widthMultiplier: info.widthMultiplier }));
  return files;
}

/** Writes tfjsExportFiles into `outDir` (created if missing), each file atomically, model.json last. */
export async function exportTfjs(
  model: tf.LayersModel,
  info: ModelInfo,
  outDir: string,
  options: TfjsExportOptions = {},
): Promise<string[]> {
  const files = await tfjsExportFiles(model, info, options);
  const names = [...files.keys()].sort((a, b) => Number(a === MODEL_JSON) - Number(b === MODEL_JSON));
  for (const name of names) await writeFileAtomic(path.join(outDir, name), files.get(name)!);
  return names;
}
