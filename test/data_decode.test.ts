import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import {
  decodeImage,
  decodeImageTensor,
  decodePixels,
  ImageDecodeError,
  type Preprocessing,
  tf,
} from '../src/index';
import { noise, removeDir, tempDir, writeImage, writeSolid } from './data_fixtures';

let root: string;
before(async () => {
  root = await tempDir();
});
after(() => removeDir(root));

/** No normalisation: the decoded values are pixel/255, easy to check. */
function plain(h: number, w: number, resize: 'fill' | 'cover' = 'fill', c = 3): Preprocessing {
  return { inputShape: [h, w, c], mean: new Array(c).fill(0), std: new Array(c).fill(1), resize };
}

/** The value at (y, x, channel) of an HWC array of width w and c channels. */
function at(data: ArrayLike<number>, w: number, c: number, y: number, x: number): number[] {
  return Array.from({ length: c }, (_, k) => data[(y * w + x) * c + k]);
}

function assertClose(actual: number[], expected: number[], tolerance: number, what: string): void {
  const ok = actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance);
  assert.ok(ok, `${what}: got [${actual}], expected [${expected}]`);
}

test('a solid-colour PNG normalises to (pixel/255 - mean) / std per channel, resized to the input', async () => {
  const file = await writeSolid(path.join(root, 'solid.png'), [200, 100, 50], 13, 7);
  const prep: Preprocessing = {
    inputShape: [5, 6, 3],
    mean: [0.5, 0.4, 0.3],
    std: [0.2, 0.25, 0.5],
    resize: 'fill',
  };
  const x = await decodeImage(file, prep);
  assert.ok(x instanceof Float32Array);
  assert.equal(x.length, 5 * 6 * 3);
  const expected = [(200 / 255 - 0.5) / 0.2, (100 / 255 - 0.4) / 0.25, (50 / 255 - 0.3) / 0.5];
  for (let i = 0; i < 30; i++)
    assertClose(at(x, 6, 3, Math.floor(i / 6), i % 6), expected, 1e-5, `pixel ${i}`);
});

test('JPEG decodes close to its colour (lossy), any size, upscaled or downscaled', async () => {
  const big = await writeSolid(path.join(root, 'big.jpg'), [30, 140, 220], 300, 200, 'jpeg');
  const small = await writeSolid(path.join(root, 'small.jpeg'), [30, 140, 220], 10, 17, 'jpeg');
  for (const file of [big, small]) {
    const x = await decodeImage(file, plain(224, 224));
    assert.equal(x.length, 224 * 224 * 3);
    assertClose(at(x, 224, 3, 100, 100), [30 / 255, 140 / 255, 220 / 255], 3 / 255, file);
  }
});

test('resize fill stretches, cover crops the centre', async () => {
  // 96x32: red | green | blue thirds.
  const stripes = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ];
  const file = await writeImage(path.join(root, 'stripes.png'), {
    width: 96,
    height: 32,
    pixel: (x) => stripes[Math.floor(x / 32)],
    format: 'png',
  });
  const cover = await decodeImage(file, plain(32, 32, 'cover'));
  for (const x of [0, 15, 31]) assertClose(at(cover, 32, 3, 16, x), [0, 1, 0], 1e-6, `cover column ${x}`);
  const fill = await decodeImage(file, plain(32, 32, 'fill'));
  assertClose(at(fill, 32, 3, 16, 4), [1, 0, 0], 0.02, 'fill left');
  assertClose(at(fill, 32, 3, 16, 16), [0, 1, 0], 0.02, 'fill middle');
  assertClose(at(fill, 32, 3, 16, 27), [0, 0, 1], 0.02, 'fill right');
  // Non-square target from a tall image: cover keeps the middle rows.
  const tall = await writeImage(path.join(root, 'tall.png'), {
    width: 10,
    height: 30,
    pixel: (_, y) => (y < 10 || y >= 20 ? [0, 0, 0] : [255, 255, 255]),
    format: 'png',
  });
  const covered = await decodePixels(tall, { inputShape: [5, 10, 3], resize: 'cover' });
  assert.deepEqual([covered.height, covered.width, covered.channels], [5, 10, 3]);
  assert.ok(covered.data.every((v) => v === 255));
});

test('grayscale becomes 3 equal channels; alpha is dropped; a 1-channel input gets luminance', async () => {
  const gray = await writeImage(path.join(root, 'gray.png'), {
    width: 9,
    height: 5,
    pixel: () => [77],
    format: 'png',
  });
  assert.equal((await sharp(gray).metadata()).channels, 1);
  assertClose(
    at(await decodeImage(gray, plain(4, 4)), 4, 3, 2, 2),
    [77 / 255, 77 / 255, 77 / 255],
    1e-6,
    'gray',
  );

  const grayAlpha = await writeImage(path.join(root, 'gray-alpha.png'), {
    width: 6,
    height: 6,
    pixel: () => [120, 255],
    format: 'png',
  });
  assertClose(
    at(await decodeImage(grayAlpha, plain(3, 3)), 3, 3, 1, 1),
    [120 / 255, 120 / 255, 120 / 255],
    1e-6,
    'ga',
  );

  const rgba = await writeImage(path.join(root, 'rgba.png'), {
    width: 7,
    height: 3,
    pixel: () => [10, 200, 30, 128],
    format: 'png',
  });
  assert.equal((await sharp(rgba).metadata()).channels, 4);
  const x = await decodeImage(rgba, plain(3, 7));
  assert.equal(x.length, 3 * 7 * 3);
  assertClose(at(x, 7, 3, 1, 3), [10 / 255, 200 / 255, 30 / 255], 1e-6, 'rgba');

  const mono = await decodeImage(
    await writeSolid(path.join(root, 'g3.png'), [77, 77, 77]),
    plain(4, 4, 'fill', 1),
  );
  assert.equal(mono.length, 16);
  assertClose([mono[5]], [77 / 255], 1 / 255, 'luminance');
});

test('corrupt, truncated, empty and missing files throw one line naming the file', async () => {
  const prep = plain(8, 8);
  const corrupt = path.join(root, 'corrupt.jpg');
  await fs.writeFile(corrupt, Buffer.from('this is not a JPEG at all, just text with a .jpg name'));
  const empty = path.join(root, 'empty.png');
  await fs.writeFile(empty, Buffer.alloc(0));
  const png = await writeImage(path.join(root, 'noise.png'), {
    width: 64,
    height: 64,
    pixel: noise,
    format: 'png',
  });
  const jpg = await writeImage(path.join(root, 'noise.jpg'), {
    width: 64,
    height: 64,
    pixel: noise,
    format: 'jpeg',
  });
  const truncatedPng = path.join(root, 'truncated.png');
  const truncatedJpg = path.join(root, 'truncated.jpg');
  const pngBytes = await fs.readFile(png);
  const jpgBytes = await fs.readFile(jpg);
  await fs.writeFile(truncatedPng, pngBytes.subarray(0, Math.floor(pngBytes.length / 2)));
  await fs.writeFile(truncatedJpg, jpgBytes.subarray(0, Math.floor(jpgBytes.length / 2)));

  for (const file of [corrupt, empty, truncatedPng, truncatedJpg]) {
    await assert.rejects(decodeImage(file, prep), (e: Error) => {
      assert.ok(e instanceof ImageDecodeError, file);
      assert.ok(e.message.startsWith(`${file}: not a decodable image (`), e.message);
      assert.ok(e.message.endsWith(')'), e.message);
      assert.ok(!e.message.includes('\n'), e.message);
      return true;
    });
  }
  const missing = path.join(root, 'missing.png');
  await assert.rejects(decodeImage(missing, prep), { message: `${missing}: no such file` });
  await assert.rejects(decodeImage(new Uint8Array([1, 2, 3]), prep, { name: 'upload' }), {
    message: /^upload: not a decodable/,
  });
  // The intact originals decode.
  assert.equal((await decodeImage(png, prep)).length, 8 * 8 * 3);
  assert.equal((await decodeImage(new Uint8Array(jpgBytes), prep)).length, 8 * 8 * 3);
});

test('bad preprocessing is rejected before decoding', async () => {
  const file = await writeSolid(path.join(root, 'ok.png'), [1, 2, 3]);
  await assert.rejects(decodeImage(file, { ...plain(4, 4), std: [1, 1] }), {
    message: /preprocessing std must hold 3 numbers/,
  });
  await assert.rejects(decodeImage(file, { ...plain(4, 4), std: [1, 0, 1] }), {
    message: /std\[1\] is 0: below .* \(std must be > 0\)/,
  });
  await assert.rejects(decodeImage(file, { ...plain(4, 4), inputShape: [4, 4, 2] }), {
    message: /inputShape/,
  });
  await assert.rejects(decodeImage(file, { ...plain(4, 4), resize: 'crop' as 'fill' }), {
    message: /resize must be/,
  });
});

test('decodeImageTensor gives [1, h, w, c] with the decodeImage values and leaks nothing', async () => {
  const file = await writeSolid(path.join(root, 't.png'), [255, 0, 51], 20, 10);
  const prep = plain(6, 4);
  const before = tf.memory().numTensors;
  const t = await decodeImageTensor(file, prep);
  assert.deepEqual(t.shape, [1, 6, 4, 3]);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(Array.from(t.dataSync()), Array.from(await decodeImage(file, prep)));
  t.dispose();
  assert.equal(tf.memory().numTensors, before);
});
