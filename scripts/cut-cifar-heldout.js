#!/usr/bin/env node
// Cuts data/cifar10-heldout/ out of the unpacked CIFAR-10 image folder: for each class, the first 5 files
// (in the dataset's file order) of the validation split that `inception train --val-split 0.1 --seed 0`
// holds out, i.e. images the shipped cifar10 model never trained on. File names and bytes are kept.
// Usage: npm run build && node scripts/cut-cifar-heldout.js /tmp/cifar/train [OUT_DIR]
const fs = require('node:fs');
const path = require('node:path');
const { ImageFolderDataset } = require('../dist/src/data/image_folder');

const PER_CLASS = 5;

async function main() {
  const [dir, out = path.join(__dirname, '..', 'data', 'cifar10-heldout')] = process.argv.slice(2);
  if (!dir) throw new Error('usage: node scripts/cut-cifar-heldout.js CIFAR_TRAIN_DIR [OUT_DIR]');
  const [, val] = (await ImageFolderDataset.open(dir)).split(0.1, 0);
  fs.rmSync(out, { recursive: true, force: true });
  val.classNames.forEach((name, label) => {
    const files = val.files.filter((f) => f.label === label).slice(0, PER_CLASS);
    fs.mkdirSync(path.join(out, name), { recursive: true });
    for (const f of files) fs.copyFileSync(f.path, path.join(out, name, path.basename(f.path)));
  });
  console.log(`wrote ${out}: ${PER_CLASS} held-out images for each of ${val.classNames.length} classes`);
}

main().catch((e) => {
  console.error(`cut-cifar-heldout: ${e.message}`);
  process.exit(1);
});
