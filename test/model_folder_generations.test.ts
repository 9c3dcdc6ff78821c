// Loading a generation folder while a new generation is published: the old one is deleted mid-read, and
// the load gives the new one, whole.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendReady } from '../src/index';
import { newGeneration, publishGeneration } from '../src/io/generations';
import { LABELS_JSON, loadModelFolder } from '../src/io/model_folder';
import { removeDir } from './data_fixtures';
import { makeModelFolder } from './support/model_folder_fixture';

let plain: string;

before(async () => {
  await backendReady;
  plain = await makeModelFolder();
});
after(() => removeDir(plain));

/** A generation of `dir` holding the plain folder's files, its first label renamed to `first`. */
async function generation(dir: string, first: string): Promise<string> {
  const gen = await newGeneration(dir);
  await fs.cp(plain, gen, { recursive: true });
  const labels = JSON.parse(await fs.readFile(path.join(gen, LABELS_JSON), 'utf8')) as string[];
  await fs.writeFile(path.join(gen, LABELS_JSON), JSON.stringify([first, ...labels.slice(1)]));
  return gen;
}

test('a generation published (and the old one deleted) while loadModelFolder reads: the new one loads', async (t) => {
  const dir = `${plain}-generations`;
  t.after(() => removeDir(dir));
  const old = await generation(dir, 'old');
  await publishGeneration(dir, old);
  const next = await generation(dir, 'new');
  const readFile = fs.readFile;
  let published = false;
  t.mock.method(fs, 'readFile', async (...args: Parameters<typeof fs.readFile>) => {
    if (!published && String(args[0]).startsWith(`${old}${path.sep}`)) {
      published = true;
      await publishGeneration(dir, next);
    }
    return readFile(...args);
  });
  const { model, info } = await loadModelFolder(dir);
  model.dispose();
  assert.ok(published, 'the load read from the old generation');
  await assert.rejects(fs.stat(old), 'the old generation is gone');
  assert.equal(info.labels[0], 'new');
});
