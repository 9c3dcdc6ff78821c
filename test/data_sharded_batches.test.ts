import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { batches } from '../src/data/batches';
import { ImageFolderDataset } from '../src/data/image_folder';
import type { Batch, BatchOptions } from '../src/data/types';
import type { Preprocessing } from '../src/io/model_folder';
import { noise, removeDir, tempDir, writeImage } from './data_fixtures';

const PREP: Preprocessing = { inputShape: [8, 8, 3], mean: [0, 0, 0], std: [1, 1, 1], resize: 'fill' };
let root: string;
let noisy: ImageFolderDataset;

before(async () => {
  root = await tempDir();
  for (let i = 0; i < 11; i++) {
    await writeImage(path.join(root, 'noisy', `c${i % 3}`, `${i}.png`), {
      width: 8,
      height: 8,
      pixel: (x, y) => noise(x + 3 * i, y + i),
      format: 'png',
    });
  }
  noisy = await ImageFolderDataset.open(path.join(root, 'noisy'));
});
after(() => removeDir(root));

/** Each image of a pass, keyed by its file, with its augmented pixels and the step it came in. */
async function imagesOf(options: BatchOptions): Promise<Map<string, { step: number; pixels: number[] }>> {
  const out = new Map<string, { step: number; pixels: number[] }>();
  let step = options.firstBatch ?? 0;
  for await (const b of batches(noisy, options) as AsyncIterable<Batch>) {
    const data = b.xs.dataSync();
    const size = data.length / Math.max(1, b.files.length);
    b.files.forEach((f, i) => {
      out.set(f.path, { step, pixels: Array.from(data.subarray(i * size, (i + 1) * size)) });
    });
    b.xs.dispose();
    b.ys.dispose();
    step++;
  }
  return out;
}

test('1, 2 and 3 ranks see the same global batches with identically augmented images; a resumed pass too', async () => {
  const base: BatchOptions = {
    batchSize: 4,
    preprocessing: PREP,
    shuffle: true,
    seed: 9,
    epoch: 2,
    augmentation: { horizontalFlip: true, cropPadding: 2 },
  };
  const single = await imagesOf(base);
  assert.equal(single.size, 11);
  // Augmentation really happened (else the comparison below would be vacuous).
  const plain = await imagesOf({ ...base, augmentation: false });
  assert.ok([...single].some(([file, v]) => JSON.stringify(v) !== JSON.stringify(plain.get(file))));
  for (const size of [2, 3]) {
    const merged = new Map<string, { step: number; pixels: number[] }>();
    for (let rank = 0; rank < size; rank++) {
      for (const [file, v] of await imagesOf({ ...base, shard: { rank, size } })) merged.set(file, v);
    }
    assert.deepEqual(merged, single, `${size} ranks`);
  }
  const resumed = await imagesOf({ ...base, shard: { rank: 1, size: 2 }, firstBatch: 1 });
  for (const [file, v] of resumed) assert.deepEqual(v, single.get(file));
  assert.ok(resumed.size > 0 && [...resumed.values()].every((v) => v.step >= 1));
});
