import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { tempSibling, writeError } from '../io/atomic';
import { newGeneration, publishGeneration, resolveModelFolder } from '../io/generations';
import {
  INFO_JSON,
  LABELS_JSON,
  loadModelFolder,
  MODEL_JSON,
  PREPROCESSING_JSON,
  readModelArtifacts,
} from '../io/model_folder';
import {
  type ModelQuantization,
  QUANTIZATION_JSON,
  QUANTIZATION_SCHEME,
  QUANTIZED_PRECISION,
  weightsSha256,
} from '../io/quantization_file';
import { HISTORY_FILES } from '../report/history';
import {
  type CalibrationOptions,
  calibrateRanges,
  calibrationImages,
  DEFAULT_CALIBRATION_IMAGES,
} from './calibrate';

export interface QuantizeOptions extends CalibrationOptions {
  /** Calibration images to use at most (DEFAULT_CALIBRATION_IMAGES). */
  calibrationImages?: number;
}

async function realpathOrNull(p: string): Promise<string | null> {
  return fs.realpath(p).catch(() => null);
}

/** Throws unless `out` may receive the quantized folder: not the source, not a non-model folder's content. */
async function checkOut(out: string, source: string, sourceDir: string): Promise<'new' | 'replace'> {
  const outReal = await realpathOrNull(out);
  if (outReal === null) return 'new';
  const same = [await realpathOrNull(source), await realpathOrNull(sourceDir)];
  const outResolved = await realpathOrNull(await resolveModelFolder(out));
  if (same.includes(outReal) || same.includes(outResolved)) {
    throw new Error(`${out}: is the source model folder; quantize writes a new folder, give another --out`);
  }
  const stat = await fs.stat(out);
  if (!stat.isDirectory()) throw new Error(`${out}: exists and is not a folder`);
  const names = await fs.readdir(out);
  if (names.length === 0) return 'new';
  if (!names.includes(MODEL_JSON)) {
    throw new Error(
      `${out}: exists and is not a model folder (no ${MODEL_JSON}); give a new or empty folder`,
    );
  }
  return 'replace';
}

/** The files that make up the network and its description in the (resolved, loaded) model folder `dir`. */
async function modelFiles(dir: string): Promise<string[]> {
  const json = JSON.parse(await fs.readFile(path.join(dir, MODEL_JSON), 'utf8'));
  const weights = (json.weightsManifest as { paths: string[] }[]).flatMap((g) => g.paths);
  for (const p of weights) {
    if (path.isAbsolute(p) || path.normalize(p).startsWith('..')) {
      throw new Error(`${path.join(dir, MODEL_JSON)}: weights path ${JSON.stringify(p)} leaves the folder`);
    }
  }
  // The training history too, so that `report` draws the curves of the network it evaluates.
  const history = HISTORY_FILES.filter((n) => fsSync.existsSync(path.join(dir, n)));
  return [MODEL_JSON, ...weights.map((p) => path.normalize(p)), LABELS_JSON, PREPROCESSING_JSON, ...history];
}

/**
 * Writes `files` (name → bytes, or a path to copy) as the folder `out`, appearing whole: a new folder is
 * written beside it and renamed into place; an existing model folder is replaced as a new generation.
 */
async function writeFolder(out: string, mode: 'new' | 'replace', files: Map<string, string | Uint8Array>) {
  const fill = async (dir: string) => {
    for (const [name, content] of files) {
      const target = path.join(dir, name);
      await fs.mkdir(path.dirname(target), { recursive: true });
      try {
        if (typeof content === 'string') await fs.copyFile(content, target);
        else await fs.writeFile(target, content);
      } catch (e) {
        throw writeError(target, e);
      }
    }
  };
  if (mode === 'replace') {
    const gen = await newGeneration(out);
    try {
      await fill(gen);
    } catch (e) {
      await fs.rm(gen, { recursive: true, force: true });
      throw e;
    }
    await publishGeneration(out, gen);
    return;
  }
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  const tmp = tempSibling(path.resolve(out));
  try {
    await fs.mkdir(tmp);
    await fill(tmp);
    // rename(2) replaces an empty folder, and fails (leaving it) on a non-empty one made meanwhile.
    await fs.rename(tmp, out);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

export interface QuantizeResult {
  out: string;
  quantization: ModelQuantization;
}

/**
 * Post-training static quantization of a float model folder: calibrates activation ranges on images from
 * `calibrationDir` (calibrateRanges) and writes `out`, a model folder holding the source's network files
 * unchanged (model.json, weights, labels, preprocessing), model-info.json marked `precision: "int8"` and
 * quantization.json. The weights stay float: every int8 engine folds BatchNormalization and derives the
 * per-channel weight scales from them (src/quantize/scheme.ts), and the folder still loads, trains and
 * exports as a float model anywhere. `out` appears whole or not at all; the source is never written.
 */
export async function quantizeModelFolder(
  source: string,
  calibrationDir: string,
  out: string,
  options: QuantizeOptions = {},
): Promise<QuantizeResult> {
  const sourceStat = await fs.stat(source).catch(() => null);
  if (!sourceStat?.isDirectory()) throw new Error(`${source}: no such model folder`);
  // One generation throughout: the network calibrated is the one whose files are copied.
  const dir = await resolveModelFolder(source);
  const mode = await checkOut(out, source, dir);
  const { model, info } = await loadModelFolder(dir);
  let quantization: ModelQuantization;
  try {
    if (info.quantization) {
      throw new Error(
        `${source}: already quantized (calibrated on ${info.quantization.calibration.count} images of ${info.quantization.calibration.source}); quantize its float source instead`,
      );
    }
    const files = await calibrationImages(
      calibrationDir,
      options.calibrationImages ?? DEFAULT_CALIBRATION_IMAGES,
    );
    const activations = await calibrateRanges(model, info.preprocessing, files, options);
    quantization = {
      scheme: QUANTIZATION_SCHEME,
      activations,
      calibration: { images: calibrationDir, count: files.length, source },
      weightsSha256: weightsSha256(readModelArtifacts(dir).weightData as ArrayBuffer),
    };
  } finally {
    model.dispose();
  }
  const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  const files = new Map<string, string | Uint8Array>(
    (await modelFiles(dir)).map((n) => [n, path.join(dir, n)]),
  );
  files.set(
    INFO_JSON,
    json({ model: info.model, widthMultiplier: info.widthMultiplier, precision: QUANTIZED_PRECISION }),
  );
  // One line per range: the file is read by people comparing calibrations too.
  const ranges = JSON.stringify(quantization, null, 2).replace(/\[\s+(\S+),\s+(\S+)\s+\]/g, '[$1, $2]');
  files.set(QUANTIZATION_JSON, new TextEncoder().encode(`${ranges}\n`));
  await writeFolder(out, mode, files);
  return { out, quantization };
}
