import type { BackendValues } from '@tensorflow/tfjs';

/**
 * Recycles the Float32Array storage of disposed tensors for the outputs of later native kernels. A training
 * step allocates and drops the same activation-sized arrays every step; fresh ones cost a page fault per
 * 4 KiB on first touch (slow in a VM) and V8 frees them only at its next GC, which their external memory
 * keeps triggering. Reusing them removes both costs.
 *
 * Only storage that this pool handed out is recycled, and only when no tensor uses it any more (views made
 * by cpu kernels such as a simple Slice count as users) and it never left the backend (readSync/read hand
 * the array itself to the caller, who may keep it). Recycled arrays are not cleared: native kernels write
 * every element of their outputs.
 *
 * Best fit: a request takes the smallest free buffer that holds it, if that is at most twice its size
 * (handing out a view of its first elements), not only one of exactly its size. A training step frees
 * activations and gradients of many sizes; exact-size reuse let GoogLeNet's pool grow to 1.7x the step's
 * live peak (1,620 vs 936 MiB at 224x224 batch 32), best fit to 1.4x.
 */
export class BufferPool {
  /** Free buffers (each array spans its whole ArrayBuffer), sorted by length. */
  private readonly free: Float32Array[] = [];
  /** How many tensors' storage is (a view of) each buffer. */
  private readonly users = new WeakMap<ArrayBufferLike, number>();
  /** Buffers handed out here: the only ones that may be recycled. */
  private readonly recyclable = new WeakSet<ArrayBufferLike>();
  /** Buffers handed out of the backend (readSync/read give the caller the array itself). */
  private readonly escaped = new WeakSet<ArrayBufferLike>();
  private pooledBytes = 0;

  constructor(
    private readonly maxPooledBytes = 1024 * 1024 * 1024,
    /** Smaller arrays live in V8's heap, where allocation is cheap. */
    private readonly minBytes = 64 * 1024,
  ) {}

  /** A Float32Array of `length` elements: a recycled one (contents undefined) or a new one (zeros). */
  take(length: number): Float32Array {
    const index = this.firstFreeOfAtLeast(length);
    if (index < this.free.length && this.free[index].length <= 2 * length) {
      const [recycled] = this.free.splice(index, 1);
      this.pooledBytes -= recycled.byteLength;
      return recycled.length === length ? recycled : new Float32Array(recycled.buffer, 0, length);
    }
    const fresh = new Float32Array(length);
    if (fresh.byteLength >= this.minBytes) this.recyclable.add(fresh.buffer);
    return fresh;
  }

  /** `values` became a tensor's storage (backend write/move). */
  retain(values: BackendValues | undefined): void {
    if (!ArrayBuffer.isView(values)) return;
    this.users.set(values.buffer, (this.users.get(values.buffer) ?? 0) + 1);
  }

  /** `values` was handed out of the backend (readSync/read): never recycle it. */
  escape(values: BackendValues | undefined): void {
    if (ArrayBuffer.isView(values)) this.escaped.add(values.buffer);
  }

  /** Whether `values` is one tensor's storage and nobody outside holds it: then it may be written in place. */
  isExclusive(values: Float32Array): boolean {
    return (this.users.get(values.buffer) ?? 0) <= 1 && !this.escaped.has(values.buffer);
  }

  /** The tensor using `values` is gone; recycle the array when it was the last user. */
  release(values: BackendValues | undefined): void {
    if (!ArrayBuffer.isView(values)) return;
    const users = (this.users.get(values.buffer) ?? 1) - 1;
    this.users.set(values.buffer, users);
    if (users > 0 || !this.recyclable.has(values.buffer) || this.escaped.has(values.buffer)) return;
    if (!(values instanceof Float32Array) || values.buffer.byteLength % 4 !== 0) return;
    // No tensor uses any part of the buffer any more: recycle all of it, whichever view was released last.
    const whole = values.byteLength === values.buffer.byteLength ? values : new Float32Array(values.buffer);
    if (this.pooledBytes + whole.byteLength > this.maxPooledBytes) return;
    this.free.splice(this.firstFreeOfAtLeast(whole.length), 0, whole);
    this.pooledBytes += whole.byteLength;
  }

  /** The index of the first free buffer of at least `length` elements (binary search). */
  private firstFreeOfAtLeast(length: number): number {
    let low = 0;
    let high = this.free.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.free[mid].length < length) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
