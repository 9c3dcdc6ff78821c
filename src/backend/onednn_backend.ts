/**
 * The `onednn` backend: tfjs's CPU backend with the heavy kernels replaced by native oneDNN ones.
 *
 * How the pieces fit (read this before adding a kernel):
 * - Storage is the CPU backend's: `backend.data.get(dataId).values`, a Float32Array per float tensor. Native
 *   functions read inputs in place and write into an output Float32Array allocated here (`allocate`), which
 *   then becomes the output tensor (`makeTensorInfo`): no copies cross the boundary. The addon never keeps
 *   a pointer to tfjs storage after a call returns.
 * - One kernel = two files named after the tfjs kernel: `src/backend/kernels/<KernelName>.ts` (reads attrs,
 *   computes shapes with tfjs's own backend_util, calls the addon) and its C++ function in the family file
 *   `native/<family>.cc`, exported with INCEPTION_EXPORT (no registration list to edit on the C++ side;
 *   binding.gyp compiles every native/*.cc). Declare the function in `addon.ts`'s NativeAddon and add the
 *   config to `kernels/index.ts`.
 * - Write kernels with `nativeKernel()` (native_kernel.ts): return null for a case the native code does
 *   not cover (an int dtype, NCHW, an activation oneDNN is not given) and the CPU kernel runs instead.
 * - register.ts copies every CPU kernel under 'onednn' except those with native versions, then registers
 *   the native ones, so nothing is registered twice (no tfjs warnings) and anything not native still works.
 * - Shared C++ plumbing is native/dnnl_common.h: engine and stream, `userMemory` (tfjs storage as
 *   oneDNN memory with nhwc/hwio tags), `inputFor`/`OutputFor` (reorders to and from the layout a
 *   primitive picked with format_tag::any, through reusable scratch buffers), `PrimitiveCache` (primitives
 *   keyed by shapes and parameters), `weightsFor` (reordered weights cached by tensor id; pass
 *   `backend.tensorId(t)` from JS). A cached weight is dropped when tfjs disposes the tensor
 *   (`disposeData` below); a kernel that writes into an existing tensor's storage in place (e.g. a fused
 *   optimizer update) must call `backend.invalidate(dataId)` so no stale reordered copy survives.
 * - Threads: OpenMP, OMP_NUM_THREADS or all cores. Native calls run synchronously on the JS thread, like
 *   every tfjs CPU kernel.
 */
import * as os from 'node:os';
import type { BackendValues, DataId, DataType, TensorInfo } from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon';
import { BufferPool } from './buffer_pool';

export class OneDnnBackend extends MathBackendCPU {
  private readonly ids = new WeakMap<DataId, number>();
  private nextId = 0;
  /**
   * Recycled output storage (see buffer_pool.ts), up to 4 GiB (a quarter of the memory on small machines):
   * a batch-128 CIFAR training step frees more than 1 GiB of activations, and with a 1 GiB cap the next
   * step page-faulted fresh arrays and took 1.8x as long.
   */
  readonly pool = new BufferPool(Math.min(4 * 1024 ** 3, os.totalmem() / 4));

  constructor(readonly native: NativeAddon) {
    super();
    // MathBackendCPU prints an "install tfjs-node" banner on first use in Node; it does not apply here.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** The Float32Array storage of a float32 tensor, or null (other dtypes go to the CPU kernels). */
  float32(t: TensorInfo): Float32Array | null {
    if (t.dtype !== 'float32') return null;
    const values = this.data.get(t.dataId).values;
    return values instanceof Float32Array ? values : null;
  }

  /**
   * Output storage for a native kernel: pass it to the addon, then wrap it with `output`. It may be recycled
   * storage with old contents: the kernel must write every element.
   */
  allocate(shape: number[]): Float32Array {
    return this.pool.take(shape.reduce((a, b) => a * b, 1));
  }

  output(shape: number[], values: Float32Array, dtype: DataType = 'float32'): TensorInfo {
    return this.makeTensorInfo(shape, dtype, values);
  }

  /** A stable small id for a tensor's storage, used by the addon to cache reordered weights. */
  tensorId(t: TensorInfo): number {
    let id = this.ids.get(t.dataId);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(t.dataId, id);
    }
    return id;
  }

  /** Drops whatever the addon cached for this tensor: call after writing into its storage in place. */
  invalidate(dataId: DataId): void {
    const id = this.ids.get(dataId);
    if (id !== undefined) {
      this.ids.delete(dataId);
      this.native.releaseTensor(id);
    }
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (!this.data.has(dataId)) {
      this.invalidate(dataId);
      this.pool.release(values);
    }
    return released;
  }

  // The pool's bookkeeping: which storage tensors use, and which left the backend.
  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = super.write(values, shape, dtype);
    this.pool.retain(values);
    return dataId;
  }

  override move(
    dataId: DataId,
    values: BackendValues,
    shape: number[],
    dtype: DataType,
    refCount: number,
  ): void {
    super.move(dataId, values, shape, dtype, refCount);
    this.pool.retain(values);
  }

  override readSync(dataId: DataId): BackendValues {
    this.pool.escape(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }
}
