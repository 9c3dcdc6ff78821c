import { batches, countBatches } from '../data/batches';
import type { ImageFolderDataset } from '../data/image_folder';
import type { BatchOptions } from '../data/types';
import type { DataSource } from './data_source';

/**
 * An image folder as a training data source: pass `epoch` is the data pipeline's seeded pass `epoch`
 * (same file order and augmentation draws for the same seed and epoch). Skipped batches of a resumed
 * epoch are still drawn, then dropped, so the rest of the pass sees exactly the draws it would have seen.
 */
export function imageFolderSource(
  dataset: ImageFolderDataset,
  options: Omit<BatchOptions, 'epoch'>,
): DataSource {
  return {
    steps: countBatches(dataset, options.batchSize),
    async *batches(epoch: number, skip = 0) {
      let step = 0;
      for await (const batch of batches(dataset, { ...options, epoch })) {
        if (step++ < skip) {
          batch.xs.dispose();
          batch.ys.dispose();
          continue;
        }
        yield batch;
      }
    },
  };
}
