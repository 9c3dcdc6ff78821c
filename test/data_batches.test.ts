import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { prefetchInOrder } from '../src/data/prefetch';
import {
  type Batch,
  type BatchOptions,
  batches,
  channelStats,
  countBatches,
  ImageDecodeError,
  ImageFolderDataset,
  MIN_STD,
  type Preprocessing,
  tf,
} from '../src/index';
import { noise, removeDir, tempDir, writeImage, writeSolid } from './data_fixtures';

const COLOURS = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
];
const PREP: Preprocessing = { inputShape: [8, 8, 3], mean: [0, 0, 0], std: [1, 1, 1], resize: 'fill' };
let root: string;
let solid: ImageFolderDataset;

before(async () => {
  root = await tempDir();
  // Classes a, b, c with 5, 4, 3 solid images of their colour, assorted sizes.
  const counts = [5, 4, 3];
  for (const [label, cls] of ['a', 'b', 'c'].entries()) {
    for (let i = 0; i < counts[label]; i++) {
      await writeSolid(path.join(root, 'solid', cls, `${i}.png`), COLOURS[label], 5 + i, 9 - i);
    }
  }
  solid = await ImageFolderDataset.open(path.join(root, 'solid'));
});
after(() => removeDir(root));

async function collect(dataset: ImageFolderDataset, options: BatchOptions): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of batches(dataset, options)) out.push(b);
  return out;
}

function disposeAll(list: Batch[]): void {
  for (const b of list) tf.dispose([b.xs, b.ys]);
}

test('batches: NHWC float32 images, one-hot labels matching each row, partial last batch, no leaks', async () => {
  const before = tf.memory().numTensors;
  const list = await collect(solid, { batchSize: 5, preprocessing: PREP, shuffle: false });
  assert.equal(countBatches(solid, 5), 3);
  assert.deepEqual(
    list.map((b) => b.xs.shape),
    [
      [5, 8, 8, 3],
      [5, 8, 8, 3],
      [2, 8, 8, 3],
    ],
  );
  assert.deepEqual(
    list.map((b) => b.ys.shape),
    [
      [5, 3],
      [5, 3],
      [2, 3],
    ],
  );
  assert.deepEqual(
    list.flatMap((b) => b.files),
    solid.files,
  );
  for (const b of list) {
    assert.equal(b.xs.dtype, 'float32');
    assert.equal(b.skipped, 0);
    const xs = b.xs.dataSync();
    const ys = b.ys.arraySync();
    b.files.forEach((f, row) => {
      assert.deepEqual(
        ys[row],
        [0, 1, 2].map((k) => (k === f.label ? 1 : 0)),
      );
      const pixel = Array.from(xs.subarray(row * 192 + 99, row * 192 + 102));
      assert.deepEqual(
        pixel,
        COLOURS[f.label].map((v) => v / 255),
        f.path,
      );
    });
  }
  disposeAll(list);
  assert.equal(tf.memory().numTensors, before);
});

test('shuffle is seeded per epoch: same seed and epoch, same order; each epoch sees every file once', async () => {
  const order = async (seed: number, epoch: number) =>
    (await collect(solid, { batchSize: 4, preprocessing: PREP, shuffle: true, seed, epoch })).flatMap((b) => {
      tf.dispose([b.xs, b.ys]);
      return b.files.map((f) => f.path);
    });
  const e0 = await order(1, 0);
  assert.deepEqual(await order(1, 0), e0);
  const e1 = await order(1, 1);
  assert.notDeepEqual(e1, e0);
  assert.notDeepEqual(await order(2, 0), e0);
  assert.deepEqual([...e0].sort(), solid.files.map((f) => f.path).sort());
  assert.deepEqual([...e1].sort(), [...e0].sort());
  assert.notDeepEqual(
    e0,
    solid.files.map((f) => f.path),
  );
});

test('augmented batches are reproducible with a seed and differ from the plain images', async () => {
  for (let i = 0; i < 6; i++) {
    await writeImage(path.join(root, 'noisy', `c${i % 2}`, `${i}.png`), {
      width: 8,
      height: 8,
      pixel: (x, y) => noise(x + i, y),
      format: 'png',
    });
  }
  const noisy = await ImageFolderDataset.open(path.join(root, 'noisy'));
  const values = async (options: Partial<BatchOptions>) => {
    const list = await collect(noisy, { batchSize: 6, preprocessing: PREP, shuffle: false, ...options });
    const data = Array.from(list[0].xs.dataSync());
    disposeAll(list);
    return data;
  };
  const aug = { horizontalFlip: true, cropPadding: 2 };
  const first = await values({ augmentation: aug, seed: 5 });
  assert.deepEqual(await values({ augmentation: aug, seed: 5 }), first);
  assert.notDeepEqual(await values({ augmentation: aug, seed: 6 }), first);
  assert.notDeepEqual(await values({ augmentation: false }), first);
  assert.deepEqual(await values({ augmentation: false }), await values({}));
});

test('bad files: error stops with a one-line message naming the file; skip warns, counts and refills', async () => {
  const dir = path.join(root, 'mixed');
  for (let i = 0; i < 4; i++) await writeSolid(path.join(dir, 'x', `${i}.png`), COLOURS[0]);
  for (let i = 0; i < 3; i++) await writeSolid(path.join(dir, 'y', `${i}.jpg`), COLOURS[1], 8, 8, 'jpeg');
  const corrupt = path.join(dir, 'x', '1a-corrupt.jpg');
  await fs.writeFile(corrupt, 'definitely not a jpeg');
  const full = await writeImage(path.join(root, 'full.png'), {
    width: 32,
    height: 32,
    pixel: noise,
    format: 'png',
  });
  const truncated = path.join(dir, 'y', '0a-truncated.png');
  const bytes = await fs.readFile(full);
  await fs.writeFile(truncated, bytes.subarray(0, bytes.length >> 1));
  const mixed = await ImageFolderDataset.open(dir);
  assert.equal(mixed.size, 9);

  const before = tf.memory().numTensors;
  await assert.rejects(collect(mixed, { batchSize: 4, preprocessing: PREP, shuffle: false }), (e: Error) => {
    assert.ok(e instanceof ImageDecodeError);
    assert.ok(e.message.startsWith(`${corrupt}: not a decodable image (`), e.message);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  // The corrupt file is the third, so the stream failed before any batch was made: nothing allocated.
  assert.equal(tf.memory().numTensors, before);

  const skippedFiles: string[] = [];
  const stream = batches(mixed, {
    batchSize: 4,
    preprocessing: PREP,
    shuffle: false,
    onBadFile: 'skip',
    onSkip: (file, reason) => skippedFiles.push(`${file} ${reason}`),
  });
  const sizes: number[] = [];
  let skipped = 0;
  let result = await stream.next();
  while (!result.done) {
    sizes.push(result.value.xs.shape[0]);
    skipped += result.value.skipped;
    tf.dispose([result.value.xs, result.value.ys]);
    result = await stream.next();
  }
  assert.deepEqual(sizes, [4, 3]);
  assert.equal(skipped, 2);
  assert.deepEqual(result.value, { batches: 2, images: 7, skipped: 2 });
  assert.equal(skippedFiles.length, 2);
  assert.ok(skippedFiles[0].startsWith(`${corrupt} `), skippedFiles[0]);
  assert.ok(skippedFiles[1].startsWith(`${truncated} `), skippedFiles[1]);
  assert.equal(tf.memory().numTensors, before);
});

test('stopping early leaves nothing behind; bad options are rejected up front', async () => {
  const before = tf.memory().numTensors;
  for await (const b of batches(solid, { batchSize: 2, preprocessing: PREP, shuffle: true, prefetch: 3 })) {
    tf.dispose([b.xs, b.ys]);
    break;
  }
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(collect(solid, { batchSize: 0, preprocessing: PREP, shuffle: false }), {
    message: 'batch size must be a whole number >= 1; got 0',
  });
  await assert.rejects(
    collect(solid, { batchSize: 2, preprocessing: { ...PREP, mean: [0] }, shuffle: false }),
    {
      message: /preprocessing mean must hold 3 numbers/,
    },
  );
});

test('prefetchInOrder keeps order and never runs more than the window ahead of the consumer', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  let started = 0;
  const work = async (i: number) => {
    started++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, (i * 7) % 5)); // finish out of order
    inFlight--;
    if (i === 13) throw new Error('thirteen');
    return i * 2;
  };
  const items = Array.from({ length: 40 }, (_, i) => i);
  const seen: (number | string)[] = [];
  let consumed = 0;
  for await (const s of prefetchInOrder(items, work, 6)) {
    consumed++;
    assert.ok(started <= consumed + 6, `started ${started} with ${consumed} consumed`);
    seen.push(s.ok ? s.value : (s.error as Error).message);
  }
  assert.ok(maxInFlight <= 6 && maxInFlight >= 2, `max in flight ${maxInFlight}`);
  assert.deepEqual(
    seen,
    items.map((i) => (i === 13 ? 'thirteen' : i * 2)),
  );
});

test('channelStats: per-channel mean and std of pixel/255, floored for constant channels', async () => {
  const dir = path.join(root, 'stats');
  await writeSolid(path.join(dir, 'p', 'red.png'), [255, 0, 51], 6, 6);
  await writeSolid(path.join(dir, 'q', 'blue.png'), [0, 0, 153], 12, 3);
  const ds = await ImageFolderDataset.open(dir);
  const stats = await channelStats(ds, { inputShape: [4, 4, 3], resize: 'fill' });
  assert.equal(stats.images, 2);
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  assert.ok(
    close(stats.mean[0], 0.5) && close(stats.mean[1], 0) && close(stats.mean[2], 0.4),
    `${stats.mean}`,
  );
  assert.ok(
    close(stats.std[0], 0.5) && close(stats.std[1], MIN_STD) && close(stats.std[2], 0.2),
    `${stats.std}`,
  );
  const one = await channelStats(ds, { inputShape: [4, 4, 3], resize: 'fill' }, { maxImages: 1, seed: 3 });
  assert.equal(one.images, 1);
  assert.ok(one.std.every((s) => s === MIN_STD));
});

test('on the embedded CIFAR-10 sample: channel means near the published CIFAR-10 values, full batches', async () => {
  const train = await ImageFolderDataset.open(
    path.join(__dirname, '..', '..', 'data', 'cifar10-sample', 'train'),
  );
  const stats = await channelStats(train, { inputShape: [32, 32, 3], resize: 'fill' });
  assert.equal(stats.images, 400);
  // CIFAR-10 training set: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616) of pixel/255.
  [0.4914, 0.4822, 0.4465].forEach((m, k) => {
    assert.ok(Math.abs(stats.mean[k] - m) < 0.03, `mean ${stats.mean}`);
  });
  [0.247, 0.2435, 0.2616].forEach((s, k) => {
    assert.ok(Math.abs(stats.std[k] - s) < 0.03, `std ${stats.std}`);
  });
  const preprocessing: Preprocessing = {
    inputShape: [32, 32, 3],
    mean: stats.mean,
    std: stats.std,
    resize: 'fill',
  };
  const before = tf.memory().numTensors;
  let rows = 0;
  let sum = 0;
  for await (const b of batches(train, { batchSize: 64, preprocessing, shuffle: true, seed: 1 })) {
    rows += b.xs.shape[0];
    for (const v of b.xs.dataSync() as Float32Array) sum += v;
    assert.deepEqual(b.ys.shape, [b.xs.shape[0], 10]);
    tf.dispose([b.xs, b.ys]);
  }
  assert.equal(rows, 400);
  // Normalised with their own statistics, the images average to ~0.
  assert.ok(Math.abs(sum / (400 * 32 * 32 * 3)) < 1e-3, `mean ${sum / (400 * 32 * 32 * 3)}`);
  assert.equal(tf.memory().numTensors, before);
});
