/** A source of uniform numbers in [0, 1), as Math.random but reproducible. */
export type Random = () => number;

/**
 * mulberry32: a tiny 32-bit seeded PRNG. Good enough for shuffling and augmentation draws, and it makes
 * runs reproducible: the same seed gives the same file order and the same flips and crops.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeds are unsigned 32-bit integers: deriveSeed and seededRandom keep only the low 32 bits of a number. */
export const MAX_SEED = 0xffffffff;

/** Whether `value` is a usable seed: an integer in [0, MAX_SEED]. */
export function isSeed(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_SEED;
}

/** Mixes several integers (a seed, an epoch, ...) into one seed, so each pass gets its own stream. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x01000193);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** A uniform integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** Fisher-Yates shuffle in place; returns the array. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
