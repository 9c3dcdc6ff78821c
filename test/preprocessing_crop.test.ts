// Preprocessing's cropFraction: resize to inputShape / cropFraction, then keep the centre inputShape
// (torchvision's resize 256 + centre crop 224). Checked pixel for pixel where no resampling happens, against
// torchvision's own transforms where it does, and validated like every other preprocessing field.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodePixels } from '../src/data/decode';
import { resizedSize } from '../src/io/centre_crop';
import { type Preprocessing, preprocessingProblem } from '../src/io/model_folder';
import { pretrainedFolder } from '../src/models/pretrained';
import { findWeights } from '../src/weights/registry';

const TORCHVISION: Preprocessing = {
  inputShape: [224, 224, 3],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  resize: 'cover',
  cropFraction: 224 / 256,
};

/** A smooth RGB image with structure everywhere (so a crop one pixel off shows), as PNG. */
async function pattern(width: number, height: number): Promise<{ png: Buffer; raw: Buffer }> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = Math.round(127.5 + 127.5 * Math.sin(x / 7));
      raw[i + 1] = Math.round(127.5 + 127.5 * Math.cos(y / 5));
      raw[i + 2] = Math.round(127.5 + 127.5 * Math.sin((x + y) / 11));
    }
  }
  const png = await sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return { png, raw };
}

test('resizedSize: inputShape / cropFraction, rounded; inputShape itself without one', () => {
  assert.deepEqual(resizedSize(TORCHVISION), [256, 256]);
  assert.deepEqual(resizedSize({ inputShape: [299, 299, 3] }), [299, 299]);
  assert.deepEqual(resizedSize({ inputShape: [224, 160, 3], cropFraction: 0.875 }), [256, 183]);
});

test('cover + cropFraction on an image whose short side is already 256: exactly the centre 224x224', async () => {
  const [width, height] = [384, 256];
  const { png, raw } = await pattern(width, height);
  const pixels = await decodePixels(png, TORCHVISION);
  assert.equal(pixels.data.length, 224 * 224 * 3);
  // torchvision: Resize(256) leaves it, CenterCrop(224) starts at top 16, left (384 - 224) / 2 = 80.
  for (let y = 0; y < 224; y++) {
    const row = raw.subarray(((y + 16) * width + 80) * 3, ((y + 16) * width + 80 + 224) * 3);
    assert.deepEqual(pixels.data.subarray(y * 224 * 3, (y + 1) * 224 * 3), new Uint8Array(row), `row ${y}`);
  }
});

const torchvisionSkip = (() => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torchvision, PIL'], { encoding: 'utf8' });
  return probe.status === 0
    ? false
    : '/usr/bin/python3 lacks torchvision (apt-get install python3-torchvision)';
})();

test("a 500x375 photo-sized image agrees with torchvision's Resize(256) + CenterCrop(224)", {
  skip: torchvisionSkip,
}, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'inception-crop-'));
  const file = path.join(dir, 'image.png');
  await fs.writeFile(file, (await pattern(500, 375)).png);
  const script = [
    'import sys',
    'from PIL import Image',
    'from torchvision import transforms as T',
    "img = Image.open(sys.argv[1]).convert('RGB')",
    'out = T.CenterCrop(224)(T.Resize(256)(img))',
    'sys.stdout.buffer.write(out.tobytes())',
  ].join('\n');
  const run = spawnSync('/usr/bin/python3', ['-c', script, file], { maxBuffer: 1 << 24 });
  assert.equal(run.status, 0, run.stderr?.toString());
  const reference = new Uint8Array(run.stdout);
  assert.equal(reference.length, 224 * 224 * 3);
  const ours = (await decodePixels(file, TORCHVISION)).data;
  // libvips' and PIL's bilinear resamplers differ by a fraction of a level on this smooth pattern
  // (measured 0.03-0.15 per channel); the same crop one pixel to the side differs by ~17.
  const meanDiff = (shift: number) => {
    let sum = 0;
    let n = 0;
    for (let y = 0; y < 224; y++) {
      for (let x = 2; x < 222; x++) {
        for (let c = 0; c < 3; c++)
          sum += Math.abs(ours[(y * 224 + x + shift) * 3 + c] - reference[(y * 224 + x) * 3 + c]);
        n += 3;
      }
    }
    return sum / n;
  };
  t.diagnostic(
    `mean |ours - torchvision|: ${meanDiff(0).toFixed(3)}; shifted one pixel: ${meanDiff(1).toFixed(2)}`,
  );
  assert.ok(meanDiff(0) < 1, `mean |ours - torchvision| = ${meanDiff(0)} of 255`);
  assert.ok(meanDiff(1) > 5 && meanDiff(-1) > 5);
});

test('cropFraction is validated; preprocessing without it (old files) stays valid', async () => {
  for (const bad of [0, -0.5, 1.5, Number.NaN, '0.875']) {
    assert.match(
      preprocessingProblem({ ...TORCHVISION, cropFraction: bad as number }) ?? '',
      /^cropFraction must be a number in \(0, 1\], got /,
    );
  }
  assert.equal(preprocessingProblem(TORCHVISION), null);
  assert.equal(preprocessingProblem({ ...TORCHVISION, cropFraction: 1 }), null);
  const shipped = JSON.parse(
    await fs.readFile(path.join(pretrainedFolder('cifar10'), 'preprocessing.json'), 'utf8'),
  );
  assert.equal(shipped.cropFraction, undefined);
  assert.equal(preprocessingProblem(shipped), null);
  await assert.rejects(
    decodePixels(Buffer.alloc(1), { ...TORCHVISION, cropFraction: 2 }),
    /cropFraction must be a number in \(0, 1\]; got 2/,
  );
  // The registry's torchvision entry is this preprocessing.
  const tv = findWeights('googlenet-torchvision', 'imagenet');
  assert.ok(tv?.kind === 'published');
  assert.deepEqual(tv.meta.preprocessing, TORCHVISION);
});
