/**
 * Width and height declared by a JPEG's SOF or a PNG's IHDR, read from the bytes without a decoder round
 * trip; null for any other format or anything unusual (the caller then asks the decoder). These are the
 * stored dimensions, as sharp's metadata() gives them: EXIF orientation does not change the pixel count.
 */
export function declaredSize(bytes: Uint8Array): { width: number; height: number } | null {
  const kind = imageKind(bytes);
  if (kind === 'PNG' && bytes.length >= 24) return pngSize(bytes);
  if (kind === 'JPEG' && bytes.length >= 4) return jpegSize(bytes);
  return null;
}

/** The format the leading bytes announce (PNG's and JPEG's magic numbers), or null. */
export function imageKind(bytes: Uint8Array): 'PNG' | 'JPEG' | null {
  const starts = (...magic: number[]) => magic.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'PNG';
  if (starts(0xff, 0xd8, 0xff)) return 'JPEG';
  return null;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (!PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The first chunk must be IHDR, 13 bytes long.
  if (view.getUint32(8) !== 13 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null;
  return positive(view.getUint32(16), view.getUint32(20));
}

/** Start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  let at = 2;
  while (at + 9 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    // Fill bytes before a marker.
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    // Markers without a length segment, or the image data before any frame header: not a header we know.
    if (
      marker === 0xd8 ||
      marker === 0xd9 ||
      marker === 0xda ||
      marker === 0x01 ||
      (marker >= 0xd0 && marker <= 0xd7)
    )
      return null;
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2) return null;
    if (isStartOfFrame(marker)) {
      if (length < 8) return null;
      return positive((bytes[at + 7] << 8) | bytes[at + 8], (bytes[at + 5] << 8) | bytes[at + 6]);
    }
    at += 2 + length;
  }
  return null;
}

function positive(width: number, height: number): { width: number; height: number } | null {
  return width > 0 && height > 0 ? { width, height } : null;
}
