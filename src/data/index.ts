// The data pipeline's public pieces: image folders, decoding, normalisation statistics, augmentation, batches.

export { deriveSeed, type Random, randomInt, seededRandom, shuffleInPlace } from '../random';
export * from './augment';
export { type BatchStreamSummary, batches, countBatches } from './batches';
export * from './decode';
export * from './image_folder';
export * from './stats';
export type * from './types';
