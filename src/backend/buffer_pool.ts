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
 */
export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
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
    const recycled = this.free.get(length)?.pop();
    if (recycled) {
      this.pooledBytes -= recycled.byteLength;
      return recycled;
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
    if (!(values instanceof Float32Array)) return;
    if (values.byteOffset !== 0 || values.byteLength !== values.buffer.byteLength) return;
    if (this.pooledBytes + values.byteLength > this.maxPooledBytes) return;
    const list = this.free.get(values.length) ?? [];
    list.push(values);
    this.free.set(values.length, list);
    this.pooledBytes += values.byteLength;
  }
}
