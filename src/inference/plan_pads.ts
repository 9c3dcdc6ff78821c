import type { Pads } from '../backend/plan_spec';

/** [before, after] padding of one axis for Keras `same`, as tfjs computes it: the odd pixel goes after. */
export function samePadding(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Explicit [top, left, bottom, right] pads of a tfjs `same` or `valid` window over an [H, W] map. */
export function windowPads(
  mode: string,
  [h, w]: number[],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): Pads {
  if (mode === 'valid') return [0, 0, 0, 0];
  const [top, bottom] = samePadding(h, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePadding(w, kernel[1], strides[1], dilations[1]);
  return [top, left, bottom, right];
}

/** Output length of a window over `size` with explicit padding (floor, as oneDNN and tfjs `valid`). */
export function windowLength(
  size: number,
  before: number,
  after: number,
  kernel: number,
  stride: number,
  dilation = 1,
) {
  return Math.floor((size + before + after - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

export function addPads(a: Pads, b: Pads): Pads {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];
}

/**
 * Whether every window of a pool over [H, W] with `pads` keeps at least one real cell: then a max pool
 * that ignores the padding equals one over zero padding on a non-negative input.
 */
export function everyWindowHasInput(
  [h, w]: number[],
  pads: Pads,
  kernel: [number, number],
  strides: [number, number],
): boolean {
  const axis = (n: number, before: number, after: number, k: number, s: number) => {
    const out = windowLength(n, before, after, k, s);
    return before < k && (out - 1) * s - before < n;
  };
  return axis(h, pads[0], pads[2], kernel[0], strides[0]) && axis(w, pads[1], pads[3], kernel[1], strides[1]);
}
