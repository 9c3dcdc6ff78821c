import type { Workload } from '../types';
import type { Engine } from './engine';
import { onnxruntimeEngine, onnxruntimeInt8Engine } from './onnxruntime';
import { torchEngine } from './pytorch';
import { tfjsEngine } from './tfjs';

const inference = (w: Workload) => w.mode === 'inference';
/** A step's work in full-width 224x224 images: what makes a configuration slow on a slow engine. */
const work = (w: Workload) => w.batch * (w.size / 224) ** 2 * w.width ** 2;

/**
 * The engines side by side, in table order. `onednn` first: the fp32 path users get (inference through
 * the compiled plan, training through the tfjs kernels), which every ratio is measured against. The plan
 * also runs in bf16 and int8; `onednn-tfjs` is the tfjs kernel-at-a-time inference the plan replaces.
 * tfjs `cpu` takes ~7 s per 224x224 image, so it runs inference at batch 1 only; `wasm` and onnxruntime
 * cannot train.
 */
export const ENGINES: Engine[] = [
  tfjsEngine('onednn', 'onednn', 'onednn fp32', { supports: () => true, planned: true }),
  tfjsEngine('onednn', 'onednn-bf16', 'onednn bf16', {
    supports: () => true,
    planned: true,
    precision: 'bf16',
  }),
  tfjsEngine('onednn', 'onednn-int8', 'onednn int8', {
    supports: inference,
    planned: true,
    precision: 'int8',
  }),
  tfjsEngine('onednn', 'onednn-tfjs', 'onednn (tfjs kernels)', { supports: inference }),
  tfjsEngine('cpu', 'tfjs-cpu', 'tfjs cpu', {
    supports: (w) => inference(w) && w.batch === 1,
    heavy: (w) => work(w) >= 0.1,
  }),
  tfjsEngine('wasm', 'tfjs-wasm', 'tfjs wasm', {
    supports: inference,
    heavy: (w) => work(w) > 8,
  }),
  onnxruntimeEngine,
  onnxruntimeInt8Engine,
  torchEngine('nchw'),
  torchEngine('channels_last'),
  torchEngine('channels_last', 'compile'),
  torchEngine('channels_last', 'bf16'),
];

/** The engine every ratio is measured against: onednn fp32 (the planned path for inference). */
export const REFERENCE_ENGINE = 'onednn';

/** Where the reference did not run (the plan not built): inference ratios fall back to the tfjs kernels. */
export const FALLBACK_REFERENCE_ENGINE = 'onednn-tfjs';
