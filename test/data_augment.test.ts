import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Augmentation,
  applyAugmentation,
  augmentPixels,
  defaultAugmentation,
  drawAugmentation,
  type Pixels,
  seededRandom,
  shuffleInPlace,
} from '../src/index';

/** A 4x3 (w x h) two-channel image whose values encode their position: (10 * y + x, 100 + 10 * y + x). */
function positions(): Pixels {
  const w = 4;
  const h = 3;
  const data = new Uint8Array(w * h * 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([10 * y + x, 100 + 10 * y + x], (y * w + x) * 2);
  }
  return { data, height: h, width: w, channels: 2 };
}

/** Channel-0 values as rows, to compare against hand-written grids. */
function grid(p: Pixels): number[][] {
  return Array.from({ length: p.height }, (_, y) =>
    Array.from({ length: p.width }, (_, x) => p.data[(y * p.width + x) * p.channels]),
  );
}

test('the seeded PRNG is reproducible and spreads over [0, 1)', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notDeepEqual(shuffleInPlace([1, 2, 3, 4, 5, 6, 7, 8], seededRandom(1)), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(
    shuffleInPlace([1, 2, 3, 4, 5, 6, 7, 8], seededRandom(1)),
    shuffleInPlace([1, 2, 3, 4, 5, 6, 7, 8], seededRandom(1)),
  );
});

test('horizontal flip mirrors columns and keeps channels together', () => {
  const out = applyAugmentation(
    positions(),
    { horizontalFlip: true, cropPadding: 0 },
    { flip: true, cropY: 0, cropX: 0 },
  );
  assert.deepEqual(grid(out), [
    [3, 2, 1, 0],
    [13, 12, 11, 10],
    [23, 22, 21, 20],
  ]);
  assert.equal(out.data[1], 103); // second channel moved with the first
});

test('crop with reflect padding mirrors the border without repeating the edge', () => {
  const aug: Augmentation = { horizontalFlip: false, cropPadding: 2, padMode: 'reflect' };
  // Offsets (0, 0): the top-left of the padded image, two rows/columns up and left of the original.
  assert.deepEqual(grid(applyAugmentation(positions(), aug, { flip: false, cropY: 0, cropX: 0 })), [
    [22, 21, 20, 21],
    [12, 11, 10, 11],
    [2, 1, 0, 1],
  ]);
  // Offsets (2p, 2p): bottom-right.
  assert.deepEqual(grid(applyAugmentation(positions(), aug, { flip: false, cropY: 4, cropX: 4 })), [
    [22, 23, 22, 21],
    [12, 13, 12, 11],
    [2, 3, 2, 1],
  ]);
  // Centre offsets and no flip: the image itself.
  assert.deepEqual(
    grid(applyAugmentation(positions(), aug, { flip: false, cropY: 2, cropX: 2 })),
    grid(positions()),
  );
});

test('crop with zero padding fills black', () => {
  const aug: Augmentation = { horizontalFlip: true, cropPadding: 1, padMode: 'zero' };
  const out = applyAugmentation(positions(), aug, { flip: true, cropY: 0, cropX: 2 });
  // Shift up one row (top row black), then flip a crop shifted right by one.
  assert.deepEqual(grid(out), [
    [0, 0, 0, 0],
    [0, 3, 2, 1],
    [0, 13, 12, 11],
  ]);
  assert.equal(out.data[(1 * 4 + 0) * 2 + 1], 0); // both channels black
});

test('augmentation with the same seed draws the same flips and crops; another seed differs', () => {
  const image = positions();
  const aug: Augmentation = { horizontalFlip: true, cropPadding: 2 };
  const run = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 20 }, () => Array.from(augmentPixels(image, aug, random).data));
  };
  assert.deepEqual(run(3), run(3));
  assert.notDeepEqual(run(3), run(4));
  const draws = Array.from(
    { length: 400 },
    (
      (r) => () =>
        drawAugmentation(aug, r)
    )(seededRandom(9)),
  );
  const flips = draws.filter((d) => d.flip).length;
  assert.ok(flips > 150 && flips < 250, `flips ${flips}`);
  assert.ok(draws.every((d) => d.cropX >= 0 && d.cropX <= 4 && d.cropY >= 0 && d.cropY <= 4));
  assert.equal(new Set(draws.map((d) => d.cropX)).size, 5);
});

test('the input is never modified, padding must fit, and the default is flip + reflect crop by 1/8 of the side', () => {
  const image = positions();
  const copy = Array.from(image.data);
  augmentPixels(image, { horizontalFlip: true, cropPadding: 1 }, seededRandom(0));
  assert.deepEqual(Array.from(image.data), copy);
  assert.throws(
    () =>
      applyAugmentation(
        image,
        { horizontalFlip: false, cropPadding: 3 },
        { flip: false, cropY: 0, cropX: 0 },
      ),
    /cropPadding 3 is too large/,
  );
  assert.deepEqual(defaultAugmentation([32, 32, 3]), {
    horizontalFlip: true,
    cropPadding: 4,
    padMode: 'reflect',
  });
  assert.equal(defaultAugmentation([224, 224, 3]).cropPadding, 28);
  assert.equal(defaultAugmentation([2, 2, 3]).cropPadding, 0);
});

/** The textbook version: build the padded image, crop it, then mirror; slow but obviously right. */
function reference(image: Pixels, aug: Augmentation, draw: { flip: boolean; cropY: number; cropX: number }) {
  const { data, height: h, width: w, channels: c } = image;
  const p = aug.cropPadding;
  const ph = h + 2 * p;
  const pw = w + 2 * p;
  const padded = new Uint8Array(ph * pw * c);
  const mirror = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const sy = y - p;
      const sx = x - p;
      const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
      if (aug.padMode === 'zero' && !inside) continue;
      for (let k = 0; k < c; k++)
        padded[(y * pw + x) * c + k] = data[(mirror(sy, h) * w + mirror(sx, w)) * c + k];
    }
  }
  const out = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const cx = draw.flip ? w - 1 - x : x;
      for (let k = 0; k < c; k++)
        out[(y * w + x) * c + k] = padded[((y + draw.cropY) * pw + cx + draw.cropX) * c + k];
    }
  }
  return Array.from(out);
}

test('every flip and crop offset matches the pad-crop-flip reference, both pad modes, 1 and 3 channels', () => {
  for (const c of [1, 3]) {
    const w = 7;
    const h = 5;
    const data = Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37 + 11) % 256);
    const image: Pixels = { data, height: h, width: w, channels: c };
    for (const padMode of ['reflect', 'zero'] as const) {
      const aug: Augmentation = { horizontalFlip: true, cropPadding: 3, padMode };
      for (const flip of [false, true]) {
        for (let cropY = 0; cropY <= 6; cropY++) {
          for (let cropX = 0; cropX <= 6; cropX++) {
            const draw = { flip, cropY, cropX };
            assert.deepEqual(
              Array.from(applyAugmentation(image, aug, draw).data),
              reference(image, aug, draw),
              `${padMode} c=${c} ${JSON.stringify(draw)}`,
            );
          }
        }
      }
    }
  }
});
