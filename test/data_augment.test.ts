import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Augmentation,
  applyAugmentation,
  augmentPixels,
  DEFAULT_AUGMENTATION,
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

test('the input is never modified, padding must fit, and the default is flip + 4-pixel reflect crop', () => {
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
  assert.deepEqual(DEFAULT_AUGMENTATION, { horizontalFlip: true, cropPadding: 4, padMode: 'reflect' });
});
