// The browser page applies preprocessing's cropFraction as the server does. With cropFraction 0.5 a 64x64
// PNG is "resized" to 64x64 (no resampling on either side) and its centre 32x32 cut out, so the page and
// the server see the same pixels and must give the same probabilities; a page that ignored the crop would
// shrink the whole image instead (a different picture: the centre and the border are different images).
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { decodeImage } from '../src/data/decode';
import { backendReady } from '../src/index';
import { createInferenceServer } from '../src/serve/server';
import { WEB_DIST_DIR } from '../src/serve/static_files';
import { CIFAR_SAMPLE, FIXTURE_PREPROCESSING, makeModelFolder } from './support/model_folder_fixture';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not installed (apt-get install chromium)`
  : !existsSync(path.join(WEB_DIST_DIR, 'app.js'))
    ? `${WEB_DIST_DIR}/app.js missing: run npm run build`
    : false;

test('browser page: cropFraction crops the centre as the server does', {
  skip,
  timeout: 180_000,
}, async () => {
  await backendReady;
  const modelDir = await makeModelFolder();
  const prep = { ...FIXTURE_PREPROCESSING, resize: 'cover' as const, cropFraction: 0.5 };
  await fs.writeFile(path.join(modelDir, 'preprocessing.json'), JSON.stringify(prep));
  // A 64x64 PNG: a ship in the centre 32x32, a horse (doubled) around it.
  const ship = await sharp(path.join(CIFAR_SAMPLE, 'val/ship/0000.jpg')).raw().toBuffer();
  const image = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'inception-crop-')), 'framed.png');
  await sharp(path.join(CIFAR_SAMPLE, 'val/horse/0003.jpg'))
    .resize(64, 64, { kernel: 'nearest' })
    .composite([{ input: ship, raw: { width: 32, height: 32, channels: 3 }, left: 16, top: 16 }])
    .png()
    .toFile(image);
  // The server's input is exactly the ship.
  const centre = await decodeImage(image, prep);
  const shipOnly = await decodeImage(path.join(CIFAR_SAMPLE, 'val/ship/0000.jpg'), FIXTURE_PREPROCESSING);
  assert.ok(centre.every((v, i) => Math.abs(v - shipOnly[i]) < 1e-5));

  const service = await createInferenceServer({ modelDir, port: 0 });
  const url = await service.listen();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    await page.setInputFiles('#file', image);
    await page.waitForSelector('#browser-result[data-top]', { timeout: 120_000 });
    await page.waitForSelector('#server-result[data-top]', { timeout: 120_000 });
    const [browserProbs, serverProbs] = await Promise.all(
      ['#browser-result', '#server-result'].map(
        async (s) => JSON.parse((await page.getAttribute(s, 'data-probabilities'))!) as [string, number][],
      ),
    );
    assert.equal(browserProbs[0][0], serverProbs[0][0]);
    assert.ok(
      Math.abs(browserProbs[0][1] - serverProbs[0][1]) < 0.02,
      `${browserProbs[0]} vs ${serverProbs[0]}`,
    );
  } finally {
    await browser.close();
    await service.close();
    await fs.rm(modelDir, { recursive: true });
  }
});
