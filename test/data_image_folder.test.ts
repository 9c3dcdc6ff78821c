import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ImageFolderDataset } from '../src/data/index';
import { removeDir, tempDir, writeSolid } from './data_fixtures';
import { CIFAR_LABELS } from './support/model_folder_fixture';

const SAMPLE = path.join(__dirname, '..', '..', 'data', 'cifar10-sample');
let root: string;

before(async () => {
  root = await tempDir();
});
after(() => removeDir(root));

/** Makes DIR/<class>/<file> for each entry; names ending in .txt get text, the rest real images. */
async function makeFolder(name: string, layout: Record<string, string[]>): Promise<string> {
  const dir = path.join(root, name);
  await fs.mkdir(dir, { recursive: true });
  for (const [cls, files] of Object.entries(layout)) {
    await fs.mkdir(path.join(dir, cls), { recursive: true });
    for (const f of files) {
      const file = path.join(dir, cls, f);
      if (f.endsWith('.txt')) await fs.writeFile(file, 'not an image');
      else await writeSolid(file, [10, 20, 30], 4, 4, f.toLowerCase().endsWith('.png') ? 'png' : 'jpeg');
    }
  }
  return dir;
}

test('scans DIR/<class>/* with sorted class names and sorted files, image extensions only', async () => {
  const dir = await makeFolder('scan', {
    zebra: ['b.JPG', 'a.png', 'notes.txt'],
    Apple: ['x.jpeg', 'y.PNG'],
    mango: ['m.jpg', '.hidden.jpg'],
  });
  await fs.writeFile(path.join(dir, 'README.txt'), 'top-level files are not classes');
  const ds = await ImageFolderDataset.open(dir);
  assert.deepEqual(ds.classNames, ['Apple', 'mango', 'zebra']); // byte order: upper case first, as Keras
  assert.equal(ds.size, 5);
  assert.deepEqual(ds.counts(), [2, 1, 2]);
  assert.deepEqual(
    ds.files.map((f) => [path.relative(dir, f.path), f.label]),
    [
      [path.join('Apple', 'x.jpeg'), 0],
      [path.join('Apple', 'y.PNG'), 0],
      [path.join('mango', 'm.jpg'), 1],
      [path.join('zebra', 'a.png'), 2],
      [path.join('zebra', 'b.JPG'), 2],
    ],
  );
});

test('classNames forces a training order onto another folder and rejects missing or extra classes', async () => {
  const dir = await makeFolder('forced', { cat: ['1.png'], dog: ['1.png'] });
  const ds = await ImageFolderDataset.open(dir, { classNames: ['dog', 'cat'] });
  assert.deepEqual(ds.classNames, ['dog', 'cat']);
  assert.deepEqual(
    ds.files.map((f) => f.label),
    [0, 1],
  );
  await assert.rejects(ImageFolderDataset.open(dir, { classNames: ['cat', 'dog', 'bird'] }), {
    message: `${dir}: class folders do not match the expected classes [cat, dog, bird]: missing bird`,
  });
  await assert.rejects(ImageFolderDataset.open(dir, { classNames: ['cat'] }), { message: /unexpected dog$/ });
});

test('bad folders give one-line errors naming the path', async () => {
  const missing = path.join(root, 'does-not-exist');
  await assert.rejects(ImageFolderDataset.open(missing), { message: `${missing}: no such folder` });

  const file = path.join(root, 'a-file.png');
  await writeSolid(file, [0, 0, 0]);
  await assert.rejects(ImageFolderDataset.open(file), {
    message: new RegExp(`^${literal(file)}: not a folder`),
  });

  const flat = await makeFolder('flat', {});
  await writeSolid(path.join(flat, 'loose.png'), [0, 0, 0]);
  await assert.rejects(ImageFolderDataset.open(flat), {
    message: new RegExp(`^${literal(flat)}: no class sub-folders`),
  });

  const noImages = await makeFolder('no-images', { a: ['x.txt'], b: [] });
  await assert.rejects(ImageFolderDataset.open(noImages), {
    message: `${noImages}: no JPEG or PNG images in any class folder`,
  });

  const oneEmpty = await makeFolder('one-empty', { a: ['1.png'], b: ['readme.txt'] });
  await assert.rejects(ImageFolderDataset.open(oneEmpty), {
    message: `${path.join(oneEmpty, 'b')}: class folder has no JPEG or PNG images`,
  });
});

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('split is stratified per class, seeded, disjoint and complete', async () => {
  const dir = await makeFolder('split', {
    a: Array.from({ length: 20 }, (_, i) => `${i}.png`),
    b: Array.from({ length: 10 }, (_, i) => `${i}.png`),
    c: Array.from({ length: 5 }, (_, i) => `${i}.png`),
  });
  const ds = await ImageFolderDataset.open(dir);
  const [train, val] = ds.split(0.2, 7);
  assert.deepEqual(val.counts(), [4, 2, 1]);
  assert.deepEqual(train.counts(), [16, 8, 4]);
  assert.deepEqual(train.classNames, ds.classNames);
  const all = new Set([...train.files, ...val.files].map((f) => f.path));
  assert.equal(all.size, ds.size);

  const [, again] = ds.split(0.2, 7);
  assert.deepEqual(again.files, val.files);
  const [, other] = ds.split(0.2, 8);
  assert.notDeepEqual(other.files, val.files);

  assert.throws(() => ds.split(0), /between 0 and 1/);
  assert.throws(() => ds.split(1), /between 0 and 1/);
  const tiny = await makeFolder('tiny-split', { a: ['1.png'], b: ['1.png'] });
  assert.throws(() => ImageFolderDataset.fromFiles(tiny, ['a'], [{ path: 'x', label: 3 }]), /label 3/);
  const tinySet = await ImageFolderDataset.open(tiny);
  assert.throws(() => tinySet.split(0.5), /leaves no validation images/);
});

test('the embedded CIFAR-10 sample opens: 10 classes, 40 train and 10 val images each', async () => {
  const train = await ImageFolderDataset.open(path.join(SAMPLE, 'train'));
  const val = await ImageFolderDataset.open(path.join(SAMPLE, 'val'), { classNames: train.classNames });
  assert.deepEqual(train.classNames, CIFAR_LABELS);
  assert.deepEqual(train.counts(), new Array(10).fill(40));
  assert.deepEqual(val.counts(), new Array(10).fill(10));
});
