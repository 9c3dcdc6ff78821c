import type { TensorInfo } from '@tensorflow/tfjs';
import type { OneDnnBackend } from './onednn_backend';

let inPlaceWrites = 0;

/**
 * How many times a kernel has overwritten a tensor's storage in place (updatedTensor below). Anything built
 * from weight values that tracks them by tensor identity (a compiled inference plan) must also compare this:
 * such a write changes the values without changing the tensor.
 */
export function inPlaceWriteCount(): number {
  return inPlaceWrites;
}

/**
 * Where a kernel that replaces `t` with a new value (an optimizer update) writes it: `t`'s own storage when
 * `t` is the only tensor using it (a variable normally is) and no caller holds the array (dataSync), else a
 * fresh array, so that nothing sharing the storage (a clone, the tensor a variable was made from, a slice
 * view, an array read out) sees its values change.
 */
export function updateTarget(backend: OneDnnBackend, t: TensorInfo): Float32Array {
  const own = backend.float32(t);
  if (!own) throw new Error(`onednn: in-place update of a ${t.dtype} tensor`);
  return backend.refCount(t.dataId) === 1 && backend.pool.isExclusive(own) ? own : backend.allocate(t.shape);
}

/**
 * The output tensor for an update written into `values` (from updateTarget): `t`'s own storage, with one
 * more reference, as tfjs's Identity kernel returns it, or a new tensor. Callers `assign` it to the variable.
 */
export function updatedTensor(backend: OneDnnBackend, t: TensorInfo, values: Float32Array): TensorInfo {
  if (values !== backend.float32(t)) return backend.output(t.shape, values);
  backend.incRef(t.dataId);
  inPlaceWrites++;
  backend.invalidate(t.dataId); // reordered copies of the old values (e.g. conv weights) are stale now
  return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
}
