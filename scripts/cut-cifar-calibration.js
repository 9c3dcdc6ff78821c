#!/usr/bin/env node
// Cuts a calibration folder for `inception quantize` out of the unpacked CIFAR-10 image folder: a seeded
// random choice of N images (default 500) from the TRAINING part of `inception train --val-split 0.1 --seed 0`,
// so that the images the shipped cifar10 model is evaluated on never calibrate it. Class folders, file names
// and bytes are kept.
// Usage: npm run build && node scripts/cut-cifar-calibration.js /tmp/cifar/train OUT_DIR [N]
const fs = require('node:fs');
const path = require('node:path');
const { ImageFolderDataset } = require('../dist/src/data/image_folder');
const { seededRandom, shuffleInPlace } = require('../dist/src/random');

async function main() {
  const [dir, out, n = '500'] = process.argv.slice(2);
  if (!dir || !out) throw new Error('usage: node scripts/cut-cifar-calibration.js CIFAR_TRAIN_DIR OUT_DIR [N]');
  const [train] = (await ImageFolderDataset.open(dir)).split(0.1, 0);
  const chosen = shuffleInPlace([...train.files], seededRandom(1)).slice(0, Number(n));
  fs.rmSync(out, { recursive: true, force: true });
  for (const f of chosen) {
    const classDir = path.join(out, train.classNames[f.label]);
    fs.mkdirSync(classDir, { recursive: true });
    fs.copyFileSync(f.path, path.join(classDir, path.basename(f.path)));
  }
  console.log(`wrote ${out}: ${chosen.length} images of the training part (of ${train.size})`);
}

main().catch((e) => {
  console.error(`cut-cifar-calibration: ${e.message}`);
  process.exit(1);
});
