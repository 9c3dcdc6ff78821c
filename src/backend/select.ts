import * as tf from '@tensorflow/tfjs';
import { addonLoadError } from './addon';
import { registerOneDnnBackend } from './register';

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
 * addon is built, else `cpu` (with one warning). Later calls return the first choice. For every backend
 * but wasm the choice takes effect synchronously, before the returned promise settles.
 */
export function selectBackend(requested = process.env.INCEPTION_BACKEND): Promise<BackendName> {
  selected ??= (async () => {
    silenceCpuBanner();
    if (requested && !BACKENDS.includes(requested as BackendName)) {
      throw new Error(
        `INCEPTION_BACKEND must be one of ${BACKENDS.join(', ')}; got ${JSON.stringify(requested)}`,
      );
    }
    const native = registerOneDnnBackend();
    let name = requested as BackendName | undefined;
    if (!name) {
      name = native ? 'onednn' : 'cpu';
      if (!native) {
        process.stderr.write(
          `inception-net: native oneDNN backend unavailable (${addonLoadError()}); using the slow tfjs 'cpu' backend\n`,
        );
      }
    } else if (name === 'onednn' && !native) {
      throw new Error(`INCEPTION_BACKEND=onednn but the native addon cannot load: ${addonLoadError()}`);
    }
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) throw new Error(`backend ${name} could not be initialised`);
    await tf.ready();
    return name;
  })();
  return selected;
}
