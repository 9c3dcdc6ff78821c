import type { Workload } from '../types';
import type { Engine } from './engine';
import { onnxruntimeEngine } from './onnxruntime';
import { torchEngine } from './pytorch';
import { tfjsEngine } from './tfjs';

const inference = (w: Workload) => w.mode === 'inference';
/** A step's work in full-width 224x224 images: what makes a configuration slow on a slow engine. */
const work = (w: Workload) => w.batch * (w.size / 224) ** 2 * w.width ** 2;

/**
 * The engines side by side, in table order. `onednn` first: every other row's ratio is against it.
 * tfjs `cpu` takes ~7 s per 224x224 image, so it runs inference at batch 1 only; `wasm` and onnxruntime
 * cannot train.
 */
export const ENGINES: Engine[] = [
  tfjsEngine('onednn', 'onednn', 'tfjs onednn', { supports: () => true }),
  tfjsEngine('cpu', 'tfjs-cpu', 'tfjs cpu', {
    supports: (w) => inference(w) && w.batch === 1,
    heavy: (w) => work(w) >= 0.1,
  }),
  tfjsEngine('wasm', 'tfjs-wasm', 'tfjs wasm', {
    supports: inference,
    heavy: (w) => work(w) > 8,
  }),
  onnxruntimeEngine,
  torchEngine('nchw'),
  torchEngine('channels_last'),
];

/** The engine every ratio is measured against. */
export const REFERENCE_ENGINE = 'onednn';
