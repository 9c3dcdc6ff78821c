import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { batches } from '../src/data/batches';
import { ImageFolderDataset } from '../src/data/image_folder';
import { checkShard, shardBatches, shardSlice } from '../src/data/shard';
import type { Batch, BatchOptions } from '../src/data/types';
import type { Preprocessing } from '../src/io/model_folder';
import { noise, removeDir, tempDir, writeImage } from './data_fixtures';

test('shardSlice: 1-4 ranks cover every global batch once, in rank order, parts within one of each other', () => {
  for (let size = 1; size <= 4; size++) {
    for (let n = 0; n <= 11; n++) {
      const slices = Array.from({ length: size }, (_, rank) => shardSlice(n, { rank, size }));
      assert.equal(slices[0][0], 0);
      assert.equal(slices[size - 1][1], n);
      for (let r = 1; r < size; r++) assert.equal(slices[r][0], slices[r - 1][1], `n ${n} size ${size}`);
      const lengths = slices.map(([a, b]) => b - a);
      assert.ok(Math.max(...lengths) - Math.min(...lengths) <= 1, `n ${n} size ${size}: ${lengths}`);
    }
  }
  assert.deepEqual(shardSlice(7, { rank: 0, size: 3 }), [0, 3]);
  assert.deepEqual(shardSlice(7, { rank: 2, size: 3 }), [5, 7]);
  assert.deepEqual(shardSlice(1, { rank: 1, size: 2 }), [1, 1]);
});

test('shardBatches: every rank gets one (possibly empty) part per global batch, from firstBatch on', () => {
  const items = [...Array(10).keys()];
  // 10 items, global batch 4: batches [0..3], [4..7], [8, 9]; on 3 ranks the last one leaves rank 2 empty.
  assert.deepEqual(shardBatches(items, 4, { rank: 0, size: 3 }), [[0, 1], [4, 5], [8]]);
  assert.deepEqual(shardBatches(items, 4, { rank: 2, size: 3 }), [[3], [7], []]);
  assert.deepEqual(shardBatches(items, 4, { rank: 1, size: 2 }, 1), [[6, 7], [9]]);
  for (const size of [1, 2, 3, 4]) {
    const all = Array.from({ length: size }, (_, rank) => shardBatches(items, 3, { rank, size }));
    const perStep = all[0].map((_, step) => all.flatMap((parts) => parts[step]));
    assert.deepEqual(perStep.flat(), items, `size ${size}`);
  }
  assert.throws(() => checkShard({ rank: 2, size: 2 }), /rank must be an integer in \[0, 1\]; got 2/);
  assert.throws(() => checkShard({ rank: 0, size: 0 }), /size must be an integer >= 1; got 0/);
});

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
