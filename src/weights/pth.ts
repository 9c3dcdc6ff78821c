import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { type AllowedGlobal, PickleDict, unpickle } from './pickle';
import { elementCount, type NamedArray, type StateDict } from './state_dict';
import { looksLikeZip, ZipArchive } from './zip';

/** PyTorch storage classes a state_dict's tensors are made of, with the NamedArray dtype they become. */
const STORAGES: Record<string, { dtype: NamedArray['dtype'] | 'bfloat16'; bytes: number }> = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
};

/** torch.save's legacy (pre-1.6) format starts with this number, pickled. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

/** A storage the pickle refers to by key; its bytes are found once the pickle is read. */
class StorageRef {
  constructor(
    readonly storageType: string,
    readonly key: string,
    readonly numel: number,
    /** Legacy storage views: the element offset into the root storage `key`. */
    readonly viewOffset = 0,
  ) {}
}

/** What `torch._utils._rebuild_tensor_v2` describes: a strided view of a storage. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isCounts = (v: unknown): v is number[] => Array.isArray(v) && v.every(isCount);

/** The only globals a state_dict pickle names, and what each builds. Everything else is refused. */
function allowedGlobals(where: string): Record<string, AllowedGlobal> {
  const globals: Record<string, AllowedGlobal> = {
    'collections.OrderedDict': {
      call: (args) => {
        if (args.length !== 0) throw new Error(`${where}: OrderedDict with constructor arguments`);
        return new PickleDict();
      },
    },
    'torch._utils._rebuild_tensor_v2': {
      call: ([storage, offset, shape, stride]) => {
        if (!(storage instanceof StorageRef) || !isCount(offset) || !isCounts(shape) || !isCounts(stride)) {
          throw new Error(`${where}: malformed tensor record in the pickle`);
        }
        if (shape.length !== stride.length)
          throw new Error(`${where}: tensor with ${shape.length} sizes and ${stride.length} strides`);
        return new TensorRef(storage, offset, shape, stride);
      },
    },
  };
  for (const name of Object.keys(STORAGES)) globals[`torch.${name}`] = {};
  return globals;
}

function storageType(value: unknown, where: string): string {
  const name = (value as { qualifiedName?: string })?.qualifiedName;
  const type = name?.replace(/^torch\./, '');
  if (!type || !STORAGES[type])
    throw new Error(`${where}: unsupported storage type ${name ?? String(value)}`);
  return type;
}

/** The persistent id of a storage: ('storage', type, key, location, numel[, legacy view metadata]). */
function storageRef(pid: unknown, where: string): StorageRef {
  if (
    !Array.isArray(pid) ||
    pid[0] !== 'storage' ||
    pid.length < 5 ||
    typeof pid[2] !== 'string' ||
    !isCount(pid[4])
  ) {
    throw new Error(`${where}: unexpected persistent id in the pickle (not a PyTorch storage)`);
  }
  const type = storageType(pid[1], where);
  const view = pid[5];
  if (view === undefined || view === null) return new StorageRef(type, pid[2], pid[4]);
  if (!Array.isArray(view) || !isCount(view[1]) || !isCount(view[2])) {
    throw new Error(`${where}: malformed legacy storage view in the pickle`);
  }
  return new StorageRef(type, pid[2], view[2], view[1]);
}

/** The row-major values of a strided view, as the NamedArray of `name`. */
function gather(tensor: TensorRef, bytes: Uint8Array, name: string, where: string): NamedArray {
  const { dtype, bytes: size } = STORAGES[tensor.storage.storageType];
  const { shape, stride, storage } = tensor;
  const count = elementCount(shape);
  const limit = Math.min(Math.floor(bytes.length / size), storage.viewOffset + storage.numel);
  const start = storage.viewOffset + tensor.offset;
  let last = start;
  for (let d = 0; d < shape.length; d++) if (shape[d] > 0) last += (shape[d] - 1) * stride[d];
  if (count > 0 && last >= limit) {
    throw new Error(
      `${where}: tensor ${name} (shape [${shape.join(', ')}]) reads past the end of its storage ${storage.key} (${limit} elements)`,
    );
  }
  // The file's bytes are aligned to the element size in practice (torch pads zip members to 64 bytes).
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  const source = typedArray(
    dtype,
    aligned.buffer as ArrayBuffer,
    aligned.byteOffset,
    Math.floor(bytes.length / size),
  );
  let out: NamedArray['data'];
  if (isRowMajor(shape, stride)) {
    out = source.slice(start, start + count);
  } else {
    out = typedArray(dtype, new ArrayBuffer(count * size), 0, count);
    const index = new Array<number>(shape.length).fill(0);
    let from = start;
    for (let i = 0; i < count; i++) {
      (out as any)[i] = (source as any)[from];
      for (let d = shape.length - 1; d >= 0; d--) {
        index[d]++;
        from += stride[d];
        if (index[d] < shape[d]) break;
        from -= stride[d] * shape[d];
        index[d] = 0;
      }
    }
  }
  if (dtype === 'bfloat16') {
    // bfloat16 is the top half of a float32: widen exactly.
    const bits = out as Uint16Array;
    const widened = new Uint32Array(count);
    for (let i = 0; i < count; i++) widened[i] = bits[i] << 16;
    return { name, shape, dtype: 'float32', data: new Float32Array(widened.buffer) };
  }
  return { name, shape, dtype, data: out };
}

/** Strides of a contiguous row-major tensor (size-1 dimensions may have any stride). */
function isRowMajor(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

function typedArray(dtype: string, buffer: ArrayBuffer, offset: number, length: number): NamedArray['data'] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, offset, length);
    case 'float64':
      return new Float64Array(buffer, offset, length);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer, offset, length);
    case 'int64':
      return new BigInt64Array(buffer, offset, length);
    case 'int32':
      return new Int32Array(buffer, offset, length);
    default:
      return new Uint8Array(buffer, offset, length);
  }
}

/** The pickled object as a state_dict: a dict of tensor views, in order. */
function stateDictOf(
  value: unknown,
  storageBytes: (storage: StorageRef) => Uint8Array,
  where: string,
): StateDict {
  if (!(value instanceof PickleDict)) {
    throw new Error(
      `${where}: not a state_dict (the file holds ${Array.isArray(value) ? 'a list' : typeof value}, not a dict of tensors)`,
    );
  }
  const out: StateDict = new Map();
  for (const [key, tensor] of value) {
    if (typeof key !== 'string')
      throw new Error(`${where}: not a state_dict (a key is ${typeof key}, not a string)`);
    if (!(tensor instanceof TensorRef)) {
      const what = tensor instanceof PickleDict ? 'a dict' : tensor === null ? 'None' : typeof tensor;
      throw new Error(
        `${where}: not a state_dict (entry ${key} is ${what}, not a tensor; save model.state_dict() itself)`,
      );
    }
    out.set(key, gather(tensor, storageBytes(tensor.storage), key, where));
  }
  return out;
}

/** The zip format (torch >= 1.6): `PREFIX/data.pkl` and one `PREFIX/data/KEY` member per storage. */
function readZipPth(bytes: Buffer, file: string): StateDict {
  const zip = new ZipArchive(bytes, file);
  const pickles = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new Error(`${file}: a zip archive but not a PyTorch file (no single PREFIX/data.pkl member)`);
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`) && zip.read(`${prefix}byteorder`).toString() !== 'little') {
    throw new Error(`${file}: big-endian PyTorch file; only little-endian files are supported`);
  }
  const where = `${file} (${pickles[0]})`;
  const { value } = unpickle(zip.read(pickles[0]), 0, {
    where,
    globals: allowedGlobals(where),
    persistentLoad: (pid) => storageRef(pid, where),
  });
  const cache = new Map<string, Uint8Array>();
  return stateDictOf(
    value,
    (storage) => {
      let data = cache.get(storage.key);
      if (!data) {
        const member = `${prefix}data/${storage.key}`;
        if (!zip.entries.has(member)) throw new Error(`${file}: storage member ${member} is missing`);
        data = zip.read(member);
        cache.set(storage.key, data);
      }
      return data;
    },
    file,
  );
}

/**
 * The legacy format (torch.save before 1.6, and `_use_new_zipfile_serialization=False`): pickles of the
 * magic number, the protocol version and sys_info, the object, the list of storage keys; then each storage
 * as an int64 element count and its raw bytes, in that list's order.
 */
function readLegacyPth(bytes: Buffer, file: string): StateDict {
  const where = `${file} (legacy format)`;
  const plain = { where, globals: {} };
  const magic = unpickle(bytes, 0, plain);
  if (magic.value !== LEGACY_MAGIC) throw new Error(`${file}: not a PyTorch file`);
  const version = unpickle(bytes, magic.end, plain);
  if (version.value !== LEGACY_PROTOCOL_VERSION) {
    throw new Error(`${file}: unsupported legacy PyTorch protocol version ${String(version.value)}`);
  }
  const sysInfo = unpickle(bytes, version.end, plain);
  if (sysInfo.value instanceof PickleDict && sysInfo.value.get('little_endian') === false) {
    throw new Error(`${file}: big-endian PyTorch file; only little-endian files are supported`);
  }
  const types = new Map<string, string>();
  const main = unpickle(bytes, sysInfo.end, {
    where,
    globals: allowedGlobals(where),
    persistentLoad: (pid) => {
      const ref = storageRef(pid, where);
      types.set(ref.key, ref.storageType);
      return ref;
    },
  });
  const keys = unpickle(bytes, main.end, plain);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new Error(`${where}: malformed storage key list`);
  }
  const storages = new Map<string, Uint8Array>();
  let at = keys.end;
  for (const key of keys.value as string[]) {
    if (at + 8 > bytes.length) throw new Error(`${file}: truncated file (storage ${key} is missing)`);
    const numel = Number(bytes.readBigInt64LE(at));
    const type = types.get(key);
    if (!type) throw new Error(`${where}: storage ${key} is listed but no tensor refers to it`);
    const end = at + 8 + numel * STORAGES[type].bytes;
    if (numel < 0 || end > bytes.length) {
      throw new Error(`${file}: truncated file (storage ${key} ends past the end of the file)`);
    }
    storages.set(key, bytes.subarray(at + 8, end));
    at = end;
  }
  return stateDictOf(
    main.value,
    (storage) => {
      const data = storages.get(storage.key);
      if (!data) throw new Error(`${file}: storage ${storage.key} is missing`);
      return data;
    },
    file,
  );
}

/** Parses the bytes of a `torch.save(state_dict)` file; `file` names it in errors. */
export function parsePth(bytes: Buffer, file: string): StateDict {
  if (endianness() !== 'LE') throw new Error(`${file}: reading PyTorch files needs a little-endian machine`);
  if (looksLikeZip(bytes)) return readZipPth(bytes, file);
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02) return readLegacyPth(bytes, file);
  if (bytes.length >= 262 && bytes.toString('latin1', 257, 262) === 'ustar') {
    throw new Error(
      `${file}: PyTorch's old tar format (torch < 0.4) is not supported; re-save it with torch.save`,
    );
  }
  throw new Error(
    `${file}: not a PyTorch file (neither torch.save's zip format nor its legacy pickle format)`,
  );
}

/**
 * The state_dict in a file written by `torch.save(model.state_dict(), file)` (zip format, or the legacy
 * format of torch < 1.6), read without Python: a restricted unpickler that refuses anything but tensors in
 * (ordered) dicts. Tensors come out row-major, whatever their strides and storage offsets were.
 */
export function readPth(file: string): StateDict {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new Error(
      `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  return parsePth(bytes, file);
}
