import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { backendReady } from '../src/index';
import { createInferenceServer } from '../src/serve/server';
import { WEB_DIST_DIR } from '../src/serve/static_files';
import { CIFAR_SAMPLE, makeModelFolder } from './support/model_folder_fixture';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not installed (apt-get install chromium)`
  : !existsSync(path.join(WEB_DIST_DIR, 'app.js'))
    ? `${WEB_DIST_DIR}/app.js missing: run npm run build`
    : false;

test('browser page: tfjs in chromium and the server agree on a real JPEG', {
  skip,
  timeout: 120_000,
}, async (t) => {
  await backendReady;
  const modelDir = await makeModelFolder();
  const service = await createInferenceServer({ modelDir, port: 0 });
  const url = await service.listen();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    assert.match((await page.textContent('#model-input')) ?? '', /32 × 32 × 3/);
    assert.match((await page.textContent('#model-classes')) ?? '', /airplane, automobile/);
    const backend = await page.textContent('#backend');
    t.diagnostic(`browser tfjs backend: ${backend}`);
    for (const image of ['val/ship/0000.jpg', 'val/cat/0001.jpg']) {
      await page.setInputFiles('#file', path.join(CIFAR_SAMPLE, image));
      await page.waitForSelector('#browser-result[data-top]', { timeout: 120_000 });
      await page.waitForSelector('#server-result[data-top]', { timeout: 120_000 });
      const browserTop = await page.getAttribute('#browser-result', 'data-top');
      const serverTop = await page.getAttribute('#server-result', 'data-top');
      const bp = JSON.parse((await page.getAttribute('#browser-result', 'data-probabilities'))!) as [
        string,
        number,
      ][];
      const sp = JSON.parse((await page.getAttribute('#server-result', 'data-probabilities'))!) as [
        string,
        number,
      ][];
      t.diagnostic(
        `${image}: browser ${browserTop} ${bp[0][1].toFixed(4)}, server ${serverTop} ${sp[0][1].toFixed(4)}`,
      );
      assert.equal(browserTop, serverTop, `top label of ${image}`);
      // Same pixels (no resize at 32x32) and the same weights: the probabilities agree closely too.
      assert.ok(Math.abs(bp[0][1] - sp[0][1]) < 0.02, `top probability ${bp[0][1]} vs ${sp[0][1]}`);
      assert.match((await page.textContent('#agreement')) ?? '', /agree/);
    }
    // A larger image: the canvas resamples differently from libvips, so only report the difference.
    const big = path.join(ARTIFACTS, 'resized-input.jpg');
    await fs.mkdir(ARTIFACTS, { recursive: true });
    await sharp(path.join(CIFAR_SAMPLE, 'val/horse/0003.jpg'))
      .resize(240, 180)
      .jpeg({ quality: 92 })
      .toFile(big);
    await page.setInputFiles('#file', big);
    await page.waitForSelector('#browser-result[data-top]', { timeout: 120_000 });
    await page.waitForSelector('#server-result[data-top]', { timeout: 120_000 });
    const resized = await Promise.all(
      ['#browser-result', '#server-result'].map(
        async (s) => JSON.parse((await page.getAttribute(s, 'data-probabilities'))!)[0],
      ),
    );
    t.diagnostic(
      `240x180 JPEG resized to 32x32: browser ${resized[0].join(' ')}, server ${resized[1].join(' ')} (canvas vs libvips bilinear)`,
    );
    const shot = path.join(ARTIFACTS, 'serve_browser.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    assert.deepEqual(consoleErrors, []);

    // The WASM fallback (what a browser without WebGL gets) loads its .wasm files from the server too.
    await page.goto(`${url}/?backend=wasm`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    assert.equal(await page.textContent('#backend'), 'wasm');
    await page.setInputFiles('#file', path.join(CIFAR_SAMPLE, 'val/dog/0000.jpg'));
    await page.waitForSelector('#browser-result[data-top]', { timeout: 120_000 });
    await page.waitForSelector('#server-result[data-top]', { timeout: 120_000 });
    assert.equal(
      await page.getAttribute('#browser-result', 'data-top'),
      await page.getAttribute('#server-result', 'data-top'),
    );
  } finally {
    await browser.close();
    await service.close();
    await fs.rm(modelDir, { recursive: true });
  }
});
