import { deriveSeed, isSeed, MAX_SEED } from '../random';

/**
 * Hands out the seeds of a builder's random initialisers and dropout layers, one per draw, each derived from
 * the builder's seed and a running count (as Keras derives per-op seeds from a global seed): every layer gets
 * its own reproducible values, where one fixed seed given to every tfjs initialiser would fill layers of the
 * same shape with the same numbers. Without a seed every draw is undefined, i.e. tfjs's unseeded initialisers.
 */
export class LayerSeeds {
  private drawn = 0;

  constructor(readonly seed?: number) {}

  next(): number | undefined {
    return this.seed === undefined ? undefined : deriveSeed(this.seed, this.drawn++);
  }
}

/** The seeds of a builder (`where` names it in errors): a seed is checked, LayerSeeds are shared as they are. */
export function layerSeeds(where: string, seed: number | LayerSeeds | undefined): LayerSeeds {
  if (seed instanceof LayerSeeds) return seed;
  if (seed !== undefined && !isSeed(seed)) {
    const shown = typeof seed === 'number' ? String(seed) : JSON.stringify(seed);
    throw new Error(`${where}: seed must be an integer in [0, ${MAX_SEED}], got ${shown}`);
  }
  return new LayerSeeds(seed);
}
