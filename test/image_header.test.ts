import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { declaredSize } from '../src/data/image_header';

/** A fixed gradient, so every encoder gets the same pixels. */
function gradient(width: number, height: number, channels: 1 | 3 | 4): Buffer {
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
  return data;
}

function image(width: number, height: number, channels: 1 | 3 | 4 = 3) {
  return sharp(gradient(width, height, channels), { raw: { width, height, channels } });
}

test('declaredSize agrees with sharp metadata on JPEG and PNG variants', async () => {
  const files: [string, Buffer][] = [
    ['baseline jpeg', await image(37, 23).jpeg().toBuffer()],
    ['progressive jpeg', await image(50, 9).jpeg({ progressive: true }).toBuffer()],
    ['grey jpeg', await image(8, 300, 1).jpeg().toBuffer()],
    ['jpeg with exif orientation 6', await image(40, 20).withMetadata({ orientation: 6 }).jpeg().toBuffer()],
    ['rgb png', await image(224, 224).png().toBuffer()],
    ['rgba png', await image(3, 5, 4).png().toBuffer()],
    ['grey 16-bit png', await image(17, 2, 1).toColourspace('grey16').png().toBuffer()],
  ];
  for (const [what, bytes] of files) {
    const { width, height } = await sharp(bytes).metadata();
    assert.deepEqual(declaredSize(bytes), { width, height }, what);
  }
});

test('declaredSize gives null for other formats and odd headers, leaving them to the decoder', async () => {
  const jpeg = await image(37, 23).jpeg().toBuffer();
  const png = await image(6, 4).png().toBuffer();
  const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
  const zeroWidth = Buffer.from(jpeg);
  zeroWidth.writeUInt16BE(0, sof + 7);
  const badIhdr = Buffer.from(png);
  badIhdr.write('IHDX', 12, 'latin1');
  const cases: [string, Uint8Array][] = [
    ['webp', await image(10, 10).webp().toBuffer()],
    ['empty', new Uint8Array(0)],
    ['text', Buffer.from('not an image at all, just some text')],
    ['jpeg cut before its frame header', jpeg.subarray(0, sof)],
    ['jpeg declaring zero width', zeroWidth],
    ['png whose first chunk is not IHDR', badIhdr],
    ['png signature only', png.subarray(0, 8)],
  ];
  for (const [what, bytes] of cases) assert.equal(declaredSize(bytes), null, what);
});
