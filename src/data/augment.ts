import { type Random, randomInt } from '../random';
import type { Pixels } from './decode';
import type { Augmentation } from './types';

/**
 * The training default: random flip, and reflect-pad by 1/8 of the input side then crop back, the usual
 * CIFAR recipe (4 pixels at 32x32) scaled to other sizes (28 at 224x224), so shifts stay the same fraction.
 */
export function defaultAugmentation(inputShape: readonly number[]): Augmentation {
  const side = Math.min(inputShape[0], inputShape[1]);
  const cropPadding = Math.max(0, Math.min(Math.round(side / 8), side - 1));
  return { horizontalFlip: true, cropPadding, padMode: 'reflect' };
}

/** One draw of the augmentation for one image. */
export interface AugmentationDraw {
  flip: boolean;
  /** Top-left corner of the crop inside the padded image, each in [0, 2 * padding]. */
  cropY: number;
  cropX: number;
}

/**
 * Draws flip then crop offsets, in that order, from `random`: the same seed gives the same draws, whatever
 * the image content.
 */
export function drawAugmentation(augmentation: Augmentation, random: Random): AugmentationDraw {
  const flip = augmentation.horizontalFlip && random() < 0.5;
  const p = augmentation.cropPadding;
  const cropY = p > 0 ? randomInt(random, 2 * p + 1) : 0;
  const cropX = p > 0 ? randomInt(random, 2 * p + 1) : 0;
  return { flip, cropY, cropX };
}

/** Index into [0, n) of padded coordinate i - the numpy `reflect` mode (mirror without repeating the edge). */
function reflect(i: number, n: number): number {
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

/**
 * Applies one draw: pad each side by augmentation.cropPadding (reflect: mirror the border pixels without
 * repeating the edge row, as numpy's `reflect`; zero: black pixels, i.e. 0 before normalisation), crop
 * back to the original size at (cropY, cropX), then mirror left-right if flip. One pass, no padded copy.
 */
export function applyAugmentation(
  pixels: Pixels,
  augmentation: Augmentation,
  draw: AugmentationDraw,
): Pixels {
  const { data, height: h, width: w, channels: c } = pixels;
  const p = augmentation.cropPadding;
  const mode = augmentation.padMode ?? 'reflect';
  if (!Number.isInteger(p) || p < 0) throw new Error(`cropPadding must be a whole number >= 0; got ${p}`);
  if (mode === 'reflect' && p >= Math.min(h, w)) {
    throw new Error(
      `cropPadding ${p} is too large to reflect-pad a ${w}x${h} image (must be < ${Math.min(h, w)})`,
    );
  }
  if (!draw.flip && (p === 0 || (draw.cropY === p && draw.cropX === p))) return pixels;
  // Source column of each output column (-1: zero padding), computed once per image, not per pixel.
  const sourceColumn = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    const sx = (draw.flip ? w - 1 - x : x) + draw.cropX - p;
    sourceColumn[x] = mode === 'zero' && (sx < 0 || sx >= w) ? -1 : reflect(sx, w);
  }
  const out = new Uint8Array(data.length); // zero-filled: the zero padding is already there
  const shift = draw.cropX - p;
  // Without a flip, the columns whose source lies inside the image are one contiguous run: one memcpy.
  const runStart = draw.flip ? w : Math.max(0, -shift);
  const runEnd = draw.flip ? w : Math.min(w, w - shift);
  for (let y = 0; y < h; y++) {
    const sy = y + draw.cropY - p;
    if (mode === 'zero' && (sy < 0 || sy >= h)) continue;
    const srcRow = reflect(sy, h) * w * c;
    const dstRow = y * w * c;
    if (runEnd > runStart) {
      out.set(
        data.subarray(srcRow + (runStart + shift) * c, srcRow + (runEnd + shift) * c),
        dstRow + runStart * c,
      );
    }
    for (let x = 0; x < w; x++) {
      if (x === runStart) x = runEnd;
      if (x >= w) break;
      const sx = sourceColumn[x];
      if (sx < 0) continue;
      const src = srcRow + sx * c;
      const dst = dstRow + x * c;
      for (let k = 0; k < c; k++) out[dst + k] = data[src + k];
    }
  }
  return { data: out, height: h, width: w, channels: c };
}

/** Draws and applies a random flip and crop; returns the input unchanged when nothing applies. */
export function augmentPixels(pixels: Pixels, augmentation: Augmentation, random: Random): Pixels {
  return applyAugmentation(pixels, augmentation, drawAugmentation(augmentation, random));
}
