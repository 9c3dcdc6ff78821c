import { crc32, inflateRawSync } from 'node:zlib';

/** One member of a zip archive, from the central directory. */
export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;
const MAX_COMMENT = 0xffff;

/** True when the bytes start like a zip archive (a local file header). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

function u64(buffer: Buffer, offset: number, what: string): number {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${value} is out of range`);
  return Number(value);
}

/**
 * A zip archive held in memory: its central directory, and members read on demand (stored or deflated,
 * CRC-32 checked). Zip64 sizes and offsets are understood; encrypted and multi-disk archives are refused.
 * `file` names the archive in every error.
 */
export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();

  constructor(
    readonly bytes: Buffer,
    readonly file: string,
  ) {
    const fail = (problem: string): never => {
      throw new Error(`${file}: ${problem}`);
    };
    const eocd = this.findEndOfCentralDirectory();
    if (eocd < 0) {
      fail(
        looksLikeZip(bytes)
          ? 'truncated zip archive (no end of central directory record)'
          : 'not a zip archive',
      );
    }
    let count = bytes.readUInt16LE(eocd + 10);
    let cdSize = bytes.readUInt32LE(eocd + 12);
    let cdOffset = bytes.readUInt32LE(eocd + 16);
    if (bytes.readUInt16LE(eocd + 4) !== 0 || bytes.readUInt16LE(eocd + 6) !== 0) {
      fail('multi-disk zip archives are not supported');
    }
    const locator = eocd - 20;
    if (locator >= 0 && bytes.readUInt32LE(locator) === ZIP64_LOCATOR) {
      const at = u64(bytes, locator + 8, 'zip64 record offset');
      if (at + 56 > bytes.length || bytes.readUInt32LE(at) !== ZIP64_EOCD) {
        fail('truncated zip archive (zip64 end of central directory record missing)');
      }
      count = u64(bytes, at + 32, 'entry count');
      cdSize = u64(bytes, at + 40, 'central directory size');
      cdOffset = u64(bytes, at + 48, 'central directory offset');
    }
    if (cdOffset + cdSize > bytes.length) fail('truncated zip archive (central directory past the end)');
    let at = cdOffset;
    for (let i = 0; i < count; i++) {
      if (at + 46 > cdOffset + cdSize || bytes.readUInt32LE(at) !== CENTRAL_HEADER) {
        fail(`corrupt zip archive (central directory entry ${i} of ${count} is malformed)`);
      }
      const flags = bytes.readUInt16LE(at + 8);
      const nameLength = bytes.readUInt16LE(at + 28);
      const extraLength = bytes.readUInt16LE(at + 30);
      const commentLength = bytes.readUInt16LE(at + 32);
      const name = bytes.toString('utf8', at + 46, at + 46 + nameLength);
      const entry: ZipEntry = {
        name,
        method: bytes.readUInt16LE(at + 10),
        crc: bytes.readUInt32LE(at + 16),
        compressedSize: bytes.readUInt32LE(at + 20),
        size: bytes.readUInt32LE(at + 24),
        localHeaderOffset: bytes.readUInt32LE(at + 42),
      };
      if (flags & 1) fail(`zip member ${name} is encrypted`);
      this.applyZip64Extra(entry, at + 46 + nameLength, extraLength);
      this.entries.set(name, entry);
      at += 46 + nameLength + extraLength + commentLength;
    }
  }

  private findEndOfCentralDirectory(): number {
    const stop = Math.max(0, this.bytes.length - 22 - MAX_COMMENT);
    for (let at = this.bytes.length - 22; at >= stop; at--) {
      if (
        this.bytes.readUInt32LE(at) === EOCD &&
        at + 22 + this.bytes.readUInt16LE(at + 20) <= this.bytes.length
      ) {
        return at;
      }
    }
    return -1;
  }

  /** Zip64 extended information (header 0x0001): the 64-bit values of fields saturated at 0xffffffff. */
  private applyZip64Extra(entry: ZipEntry, start: number, length: number): void {
    for (let at = start; at + 4 <= start + length; ) {
      const id = this.bytes.readUInt16LE(at);
      const size = this.bytes.readUInt16LE(at + 2);
      if (id === 0x0001) {
        let field = at + 4;
        for (const key of ['size', 'compressedSize', 'localHeaderOffset'] as const) {
          if (entry[key] === 0xffffffff && field + 8 <= at + 4 + size) {
            entry[key] = u64(this.bytes, field, `zip member ${entry.name} ${key}`);
            field += 8;
          }
        }
      }
      at += 4 + size;
    }
  }

  /** The names of the members, in central-directory order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** A member's bytes (a view into the archive for stored members), CRC-32 verified. */
  read(name: string): Buffer {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`${this.file}: zip member ${name} is missing`);
    const at = entry.localHeaderOffset;
    if (at + 30 > this.bytes.length || this.bytes.readUInt32LE(at) !== LOCAL_HEADER) {
      throw new Error(`${this.file}: truncated or corrupt zip archive (no local header for ${name})`);
    }
    const start = at + 30 + this.bytes.readUInt16LE(at + 26) + this.bytes.readUInt16LE(at + 28);
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) {
      throw new Error(`${this.file}: truncated zip archive (member ${name} ends past the end of the file)`);
    }
    const raw = this.bytes.subarray(start, end);
    let data: Buffer;
    if (entry.method === STORED) {
      data = raw;
    } else if (entry.method === DEFLATED) {
      try {
        data = inflateRawSync(raw);
      } catch (error) {
        throw new Error(`${this.file}: zip member ${name} does not inflate (${(error as Error).message})`);
      }
    } else {
      throw new Error(`${this.file}: zip member ${name} uses compression method ${entry.method}`);
    }
    if (data.length !== entry.size) {
      throw new Error(
        `${this.file}: zip member ${name} has ${data.length} bytes, its header says ${entry.size}`,
      );
    }
    if (crc32(data) >>> 0 !== entry.crc >>> 0) {
      throw new Error(`${this.file}: zip member ${name} fails its CRC-32 check (corrupt file)`);
    }
    return data;
  }
}
