// Stands in for native/plan.cc where the addon lacks the plan functions: the same NativeAddon plan API,
// run by the tfjs reference interpreter, so that the plan cache, invalidation and fallback are tested
// everywhere. With the real executor present, tests use it and this installs nothing.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon, PlanHandle } from '../../src/backend/addon';
import type { PlanSpec } from '../../src/backend/plan_spec';
import { runPlanReference } from './plan_interpreter';

type PlanFunctions = Pick<NativeAddon, 'planCreate' | 'planRun' | 'planStats' | 'planInfo' | 'planRelease'>;

/** The addon of the onednn backend (the tests that use this need it registered). */
function backendAddon(): NativeAddon {
  return (tf.findBackend('onednn') as unknown as { native: NativeAddon }).native;
}

export function hasNativeExecutor(): boolean {
  return (
    typeof backendAddon().planCreate === 'function' &&
    !(backendAddon() as { referencePlans?: boolean }).referencePlans
  );
}

/** Installs the reference plan functions on the addon object when it has none; returns the uninstaller. */
export function installReferenceExecutor(): () => void {
  const native = backendAddon() as NativeAddon & { referencePlans?: boolean };
  if (typeof native.planCreate === 'function') return () => {};
  const specs = new Map<number, PlanSpec>();
  let next = 0;
  const functions: PlanFunctions = {
    planCreate: (spec) => {
      specs.set(next, spec);
      return next++ as unknown as PlanHandle;
    },
    planRun: (handle, input, output) => {
      const spec = specs.get(handle as unknown as number);
      if (!spec) throw new Error('reference plan: released');
      const x = tf.tensor4d(input, [spec.batch, ...spec.inputShape]);
      const y = runPlanReference(spec, x);
      output.set(y.dataSync());
      tf.dispose([x, y]);
    },
    planStats: () => new Float32Array(0),
    planInfo: () => ({ arenaBytes: 0, primitives: [], layout: 'reference' }),
    planRelease: (handle) => {
      specs.delete(handle as unknown as number);
    },
  };
  Object.assign(native, functions, { referencePlans: true });
  return () => {
    for (const key of [...Object.keys(functions), 'referencePlans'])
      delete (native as unknown as Record<string, unknown>)[key];
  };
}
