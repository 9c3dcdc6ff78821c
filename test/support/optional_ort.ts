import type * as Ort from 'onnxruntime-node';

/** onnxruntime-node, or null when it cannot load here; `ortMissing` then says why (a node:test skip reason). */
export let ort: typeof Ort | null = null;
export let ortMissing: string | false = false;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  ortMissing = `onnxruntime-node cannot load: ${(e as Error).message.split('\n')[0]}`;
  console.log(`# skipping the onnxruntime comparisons: ${ortMissing}`);
}
