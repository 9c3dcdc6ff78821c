// Builds PyTorch-format files byte by byte for the .pth reader's tests, so that they run without Python:
// protocol-2 pickles as torch.save writes them, the zip container, and hostile variants of both.
import { crc32, deflateRawSync } from 'node:zlib';

/** Protocol-2 pickle opcodes, written in the order they are called. */
export class PickleWriter {
  private parts: Buffer[] = [Buffer.from([0x80, 0x02])];

  raw(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  global(module: string, name: string): this {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    return this;
  }
  string(s: string): this {
    const body = Buffer.from(s, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = 0x58; // BINUNICODE
    head.writeUInt32LE(body.length, 1);
    this.parts.push(head, body);
    return this;
  }
  int(n: number): this {
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT
    b.writeInt32LE(n, 1);
    this.parts.push(b);
    return this;
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  emptyOrderedDict(): this {
    return this.global('collections', 'OrderedDict').raw(0x29).reduce();
  }
  stop(): Buffer {
    this.parts.push(Buffer.from([0x2e]));
    return Buffer.concat(this.parts);
  }
}

/** One tensor of a synthetic state_dict: a strided view of its own storage. */
export interface TensorSpec {
  name: string;
  storageType: string; // 'FloatStorage', 'HalfStorage', ...
  storage: ArrayBufferView;
  numel: number;
  shape: number[];
  stride: number[];
  offset: number;
}

/** The data.pkl torch.save writes for an OrderedDict of tensors (storage key = the tensor's index). */
export function stateDictPickle(tensors: TensorSpec[]): Buffer {
  const p = new PickleWriter().emptyOrderedDict().mark();
  tensors.forEach((t, i) => {
    p.string(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark()
      .string('storage')
      .global('torch', t.storageType)
      .string(String(i))
      .string('cpu')
      .int(t.numel)
      .tuple();
    p.raw(0x51); // BINPERSID
    p.int(t.offset).mark();
    for (const d of t.shape) p.int(d);
    p.tuple().mark();
    for (const s of t.stride) p.int(s);
    p.tuple().raw(0x89).emptyOrderedDict().tuple().reduce();
  });
  return p.raw(0x75).stop(); // SETITEMS
}

/** A zip archive of `members` (stored, or deflated with `deflate`), as torch.save's container. */
export function zipArchive(members: [string, Buffer][], { deflate = false } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const nameBytes = Buffer.from(name, 'utf8');
    const body = deflate ? deflateRawSync(data) : data;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A zip-format .pth of `tensors`, members under `archive/` as torch.save names them. */
export function torchZip(tensors: TensorSpec[], options: { deflate?: boolean } = {}): Buffer {
  const storages = tensors.map(
    (t, i) =>
      [`archive/data/${i}`, Buffer.from(t.storage.buffer, t.storage.byteOffset, t.storage.byteLength)] as [
        string,
        Buffer,
      ],
  );
  return zipArchive(
    [['archive/data.pkl', stateDictPickle(tensors)], ...storages, ['archive/version', Buffer.from('3\n')]],
    options,
  );
}

/** The first three pickles of torch.save's legacy format: magic number, protocol version 1001, sys_info. */
export function legacyHeader(): Buffer {
  const magic = Buffer.alloc(10);
  let m = 0x1950a86a20f9469cfc6cn;
  for (let i = 0; i < 10; i++, m >>= 8n) magic[i] = Number(m & 0xffn);
  return Buffer.concat([
    new PickleWriter().raw(0x8a, 10, ...magic).stop(),
    new PickleWriter().raw(0x4d, 0xe9, 0x03).stop(),
    new PickleWriter().raw(0x7d).stop(),
  ]);
}

/** A pickle that, in Python, would run `command` through os.system. */
export function osSystemPickle(command: string): Buffer {
  return new PickleWriter().global('os', 'system').string(command).raw(0x85).reduce().stop();
}
