// The public API: re-exports only, plus choosing the engine once at import.
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backend/select';

/** Resolves once the engine chosen at import (onednn, else cpu; INCEPTION_BACKEND overrides) is ready. */
export const backendReady = selectBackend();

export type { BackendName } from './backend/select';
export * from './io/model_folder';
export * from './models/googlenet';
export * from './models/inception_module';
export { buildModel, MODEL_BUILDERS } from './models/registry';
export { formatSummary, type ModelSummary, modelSummary, type SummaryRow } from './models/summary';
export {
  FusedAdamOptimizer,
  FusedMomentumOptimizer,
  FusedRMSPropOptimizer,
} from './training/fused_optimizers';
export { tf };
