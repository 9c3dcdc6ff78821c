import { batches, countBatches } from '../data/batches';
import type { ImageFolderDataset } from '../data/image_folder';
import type { BatchOptions } from '../data/types';
import type { DataSource } from './data_source';

/**
 * An image folder as a training data source: pass `epoch` is the data pipeline's seeded pass `epoch`
 * (same file order and augmentation draws for the same seed and epoch). Batches have fixed boundaries
 * (`batchSize` global images each, the last one the remainder), so a resumed epoch starts at its step
 * without decoding the batches it skips. With `shard`, each batch is that rank's part of the global batch:
 * `steps` is the global count, the same on every rank.
 */
export function imageFolderSource(
  dataset: ImageFolderDataset,
  options: Omit<BatchOptions, 'epoch' | 'firstBatch'>,
): DataSource {
  return {
    steps: countBatches(dataset, options.batchSize),
    batches: (epoch: number, skip = 0) =>
      batches(dataset, { shard: { rank: 0, size: 1 }, ...options, epoch, firstBatch: skip }),
  };
}
