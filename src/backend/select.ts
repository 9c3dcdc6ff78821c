import * as tf from '@tensorflow/tfjs';

/** The backends a user can ask for with INCEPTION_BACKEND. */
export type BackendName = 'onednn' | 'cpu' | 'wasm';
const BACKENDS: BackendName[] = ['onednn', 'cpu', 'wasm'];

/** tfjs-backend-cpu prints an "install tfjs-node" banner on first use in Node; that advice does not apply here. */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}

let selected: Promise<BackendName> | undefined;

/**
 * Picks the engine once per process: INCEPTION_BACKEND if set, else the native `onednn` backend when its
 * addon is built, else `cpu`. Later calls return the first choice.
 */
export function selectBackend(requested = process.env.INCEPTION_BACKEND): Promise<BackendName> {
  selected ??= (async () => {
    silenceCpuBanner();
    const name = (requested || 'cpu') as BackendName;
    if (!BACKENDS.includes(name)) {
      throw new Error(
        `INCEPTION_BACKEND must be one of ${BACKENDS.join(', ')}; got ${JSON.stringify(requested)}`,
      );
    }
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) throw new Error(`backend ${name} could not be initialised`);
    await tf.ready();
    return name;
  })();
  return selected;
}
