/**
 * NumPy's `.npy` format, version 1.0, for a float32 C-order array: the magic `\x93NUMPY`, the version, a
 * little-endian uint16 header length, the header (a Python dict literal, space-padded and newline-ended so
 * that the data starts at a multiple of 64 bytes), then the values little-endian. `numpy.load` reads it.
 */
export function encodeNpyFloat32(data: Float32Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(`npy: shape [${shape}] holds ${count} values but the data has ${data.length}`);
  }
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  const padded = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const header = `${dict}${' '.repeat(padded - preamble - dict.length - 1)}\n`;
  const out = new Uint8Array(padded + data.length * 4);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), preamble);
  const view = new DataView(out.buffer, padded);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

/** Reads back what encodeNpyFloat32 writes (a float32 little-endian C-order array); errors name `file`. */
export function decodeNpyFloat32(bytes: Uint8Array, file: string): { shape: number[]; data: Float32Array } {
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (magic !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes[6] === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = bytes[6] === 1 ? 10 : 12;
  const header = Buffer.from(bytes.subarray(start, start + length)).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${file}: expected a little-endian float32 C-order array, header ${header.trim()}`);
  }
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = dims
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map(Number);
  const offset = start + length;
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength - offset !== count * 4) {
    throw new Error(
      `${file}: ${bytes.byteLength - offset} data bytes but shape (${dims}) needs ${count * 4}`,
    );
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat32(offset + i * 4, true);
  return { shape, data };
}
