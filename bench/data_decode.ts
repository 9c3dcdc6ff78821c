// Decode throughput of the data pipeline on the embedded CIFAR-10 sample (32x32 JPEGs), at the model input
// sizes 32x32 and 224x224, for a few sharp thread-pool sizes and prefetch windows.
// Run: npm run build && node dist/bench/data_decode.js [--json]
import * as path from 'node:path';
import sharp from 'sharp';
import { batches, defaultAugmentation, ImageFolderDataset, type Preprocessing, tf } from '../src/index';

const SAMPLE = path.join(__dirname, '..', '..', 'data', 'cifar10-sample', 'train');
const PASSES = 3;

interface Row {
  size: number;
  sharpConcurrency: number;
  prefetch: number;
  imagesPerSecond: number;
}

async function measure(dataset: ImageFolderDataset, prep: Preprocessing, prefetch: number): Promise<number> {
  const start = process.hrtime.bigint();
  let images = 0;
  for (let epoch = 0; epoch < PASSES; epoch++) {
    const stream = batches(dataset, {
      batchSize: 32,
      preprocessing: prep,
      shuffle: true,
      epoch,
      augmentation: defaultAugmentation(prep.inputShape),
      prefetch,
    });
    for await (const b of stream) {
      images += b.xs.shape[0];
      tf.dispose([b.xs, b.ys]);
    }
  }
  return images / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const dataset = await ImageFolderDataset.open(SAMPLE);
  const rows: Row[] = [];
  for (const size of [32, 224]) {
    const prep: Preprocessing = {
      inputShape: [size, size, 3],
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      resize: 'fill',
    };
    await measure(dataset, prep, 8); // warm-up: file cache, sharp init
    for (const sharpConcurrency of [1, 2]) {
      sharp.concurrency(sharpConcurrency);
      for (const prefetch of [1, 4, 16, 64]) {
        rows.push({
          size,
          sharpConcurrency,
          prefetch,
          imagesPerSecond: await measure(dataset, prep, prefetch),
        });
        if (!json) {
          const r = rows[rows.length - 1];
          console.log(
            `${size}x${size}  sharp.concurrency ${r.sharpConcurrency}  prefetch ${String(prefetch).padStart(2)}  ${r.imagesPerSecond.toFixed(0).padStart(6)} images/s`,
          );
        }
      }
    }
  }
  if (json) console.log(JSON.stringify({ dataset: SAMPLE, images: dataset.size * PASSES, rows }));
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
