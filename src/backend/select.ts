import * as tf from '@tensorflow/tfjs';
import { addonLookup } from './addon';
import { registerOneDnnBackend } from './register';

/** The backends a user can ask for with INCEPTION_BACKEND. */
export type BackendName = 'onednn' | 'cpu' | 'wasm';
const BACKENDS: BackendName[] = ['onednn', 'cpu', 'wasm'];

/**
 * The engine to use when the native one cannot load. `wasm` is ~30x faster than `cpu` for inference but
 * lacks training kernels (Conv2DBackpropFilter), so only callers that never train ask for it.
 */
export type FallbackBackend = 'cpu' | 'wasm';

/** How the engine was chosen, for `inception doctor`. */
export interface BackendChoice {
  backend: BackendName;
  /** `native`: the addon loaded; `requested`: INCEPTION_BACKEND; `fallback`: the addon did not load. */
  how: 'native' | 'requested' | 'fallback';
  /** For a fallback: why the native engine is unavailable, and how to get it. */
  reason?: string;
  remedy?: string;
}

/** tfjs-backend-cpu prints an "install tfjs-node" banner on first use in Node; that advice does not apply here. */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}

/** The one warning line of a fallback: what is missing, what runs instead, how to get the fast engine. */
export function fallbackWarning(backend: FallbackBackend, reason: string, remedy: string): string {
  const using =
    backend === 'wasm'
      ? "using tfjs 'wasm' (inference only; training uses the slow 'cpu')"
      : "using the slow tfjs 'cpu' backend";
  return `inception-net: native oneDNN engine unavailable: ${reason}; ${using}. For the fast engine: ${remedy}`;
}

let selected: Promise<BackendChoice> | undefined;

/**
 * Picks the engine once per process: INCEPTION_BACKEND if set, else the native `onednn` backend when its
 * addon loads, else `fallback` (then `cpu` if wasm cannot start), with one warning line. Later calls return
 * the first choice. For every backend but wasm the choice takes effect synchronously, before the returned
 * promise settles.
 */
export function selectBackend(
  requested = process.env.INCEPTION_BACKEND,
  fallback: FallbackBackend = 'cpu',
): Promise<BackendName> {
  return chooseBackend(requested, fallback).then((choice) => choice.backend);
}

/** Like selectBackend, with how the engine was chosen. */
export function chooseBackend(
  requested = process.env.INCEPTION_BACKEND,
  fallback: FallbackBackend = 'cpu',
): Promise<BackendChoice> {
  selected ??= (async (): Promise<BackendChoice> => {
    silenceCpuBanner();
    if (requested && !BACKENDS.includes(requested as BackendName)) {
      throw new Error(
        `INCEPTION_BACKEND must be one of ${BACKENDS.join(', ')}; got ${JSON.stringify(requested)}`,
      );
    }
    const native = registerOneDnnBackend();
    const { reason, remedy } = addonLookup();
    if (requested === 'onednn' && !native) {
      throw new Error(`INCEPTION_BACKEND=onednn but the native addon cannot load: ${reason}`);
    }
    if (requested) {
      await setBackend(requested as BackendName);
      return { backend: requested as BackendName, how: 'requested' };
    }
    if (native) {
      await setBackend('onednn');
      return { backend: 'onednn', how: 'native' };
    }
    let backend: FallbackBackend = fallback;
    let why = reason;
    if (backend === 'wasm') {
      try {
        await setBackend('wasm');
      } catch (error) {
        why = `${reason}; wasm: ${(error as Error).message.split('\n')[0]}`;
        backend = 'cpu';
      }
    }
    if (backend === 'cpu') await setBackend('cpu');
    process.stderr.write(`${fallbackWarning(backend, why, remedy)}\n`);
    return { backend, how: 'fallback', reason: why, remedy };
  })();
  return selected;
}

async function setBackend(name: BackendName): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} could not be initialised`);
  await tf.ready();
}
