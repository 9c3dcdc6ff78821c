import type { Precision } from '../backend/plan_spec';
import { type ActivationRanges, precisionUnavailable } from '../inference/plan';
import type { ModelInfo } from '../io/model_folder';

/** The precision a model folder runs at, with the ranges an int8 plan needs (compilePlan's options). */
export interface FolderPrecision {
  precision: Precision;
  ranges?: ActivationRanges;
}

const printToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * How a loaded model folder runs: `requested` when given, else int8 for a quantized folder and fp32 for the
 * others. int8 takes the folder's calibrated ranges; asking int8 of a float folder throws (there is nothing
 * to derive activation scales from). A quantized folder on an engine without the int8 planned path (no
 * native addon, wasm, cpu) runs its float network, saying so once through `notice`: only an explicit
 * `requested` int8 is an error there (checkPrecision's).
 */
export function folderPrecision(
  info: ModelInfo,
  requested?: Precision,
  notice: (line: string) => void = printToStderr,
): FolderPrecision {
  if (requested === undefined && info.quantization) {
    const why = precisionUnavailable('int8');
    if (why) {
      notice(
        `inception-net: running the quantized ${info.model} in fp32: ${why.replace(/^--precision int8 /, 'int8 ')}`,
      );
      return { precision: 'fp32' };
    }
  }
  const precision = requested ?? (info.quantization ? 'int8' : 'fp32');
  if (precision !== 'int8') return { precision };
  if (!info.quantization) {
    throw new Error('int8 needs a quantized model folder (inception quantize makes one from this folder)');
  }
  return { precision, ranges: info.quantization.activations };
}
