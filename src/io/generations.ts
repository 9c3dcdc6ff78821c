import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { crashPoint, linkTree, removeStaleTemps, replaceSymlink, tempSibling } from './atomic';

/**
 * A model folder replaced as a whole. Each version of its content is written into a generation folder
 * `DIR/.gen-<tag>/`; `DIR/current` is a relative symlink to the published one, and each published entry
 * (`DIR/model.json`, `DIR/checkpoints`, ...) is a symlink `current/<name>`. Publishing a generation is one
 * rename(2) of the `current` link, so readers and a kill at any moment see the old version or the new one,
 * whole. A plain folder (models/cifar10, folders of older versions) is read as it is, and adopted on its
 * first replacement without a moment where its entries are missing or mixed.
 */
export const CURRENT = 'current';
export const GENERATION_PREFIX = '.gen-';

/** `DIR/current`'s target folder when DIR is a generation folder, else DIR. */
export async function resolveModelFolder(dir: string): Promise<string> {
  const link = path.join(dir, CURRENT);
  const stat = await fs.lstat(link).catch(() => null);
  return stat?.isSymbolicLink() ? fs.realpath(link) : dir;
}

/** The generation folders in `dir` (full paths), the published one included. */
export async function generations(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(GENERATION_PREFIX)).map((n) => path.join(dir, n));
}

/** The published generation of `dir` (full path), or null for a plain or new folder. */
export async function currentGeneration(dir: string): Promise<string | null> {
  const target = await fs.readlink(path.join(dir, CURRENT)).catch(() => null);
  return target === null ? null : path.join(dir, target);
}

/** A fresh, empty generation folder in `dir` (created with `dir`). */
export async function newGeneration(dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const gen = path.join(dir, `${GENERATION_PREFIX}${randomBytes(6).toString('hex')}`);
  await fs.mkdir(gen);
  return gen;
}

/** Points `dir/name` at `current/name` (a real folder there is first moved aside, then deleted). */
async function linkEntry(dir: string, name: string): Promise<void> {
  const entry = path.join(dir, name);
  const target = path.join(CURRENT, name);
  const stat = await fs.lstat(entry).catch(() => null);
  if (stat?.isSymbolicLink() && (await fs.readlink(entry)) === target) return;
  if (stat?.isDirectory()) {
    const aside = tempSibling(entry);
    await fs.rename(entry, aside);
    await replaceSymlink(entry, target);
    await fs.rm(aside, { recursive: true, force: true });
    return;
  }
  await replaceSymlink(entry, target);
}

/**
 * Turns a plain folder into a generation folder with the same content: its entries named in `names` are
 * hard-linked into a generation that `current` then points at, and each is replaced by its link. Every
 * step leaves every entry readable with its old content; run again, it finishes an adoption a kill cut short.
 */
async function adoptPlainFolder(dir: string, names: string[]): Promise<void> {
  const real: string[] = [];
  for (const name of names) {
    const stat = await fs.lstat(path.join(dir, name)).catch(() => null);
    if (stat && !stat.isSymbolicLink()) real.push(name);
  }
  if (real.length === 0) return;
  let current = await currentGeneration(dir);
  if (!current) {
    current = await newGeneration(dir);
    for (const name of real) await linkTree(path.join(dir, name), path.join(current, name));
    await replaceSymlink(path.join(dir, CURRENT), path.basename(current));
  }
  for (const name of real) {
    crashPoint('publish:adopting');
    if (await fs.lstat(path.join(current, name)).catch(() => null)) await linkEntry(dir, name);
  }
}

/** Deletes generations of `dir` other than the published one and `keep`, and `*.tmp` leftovers. */
export async function removeGenerations(dir: string, keep: string[] = []): Promise<void> {
  const current = await currentGeneration(dir);
  const kept = new Set([current, ...keep].filter(Boolean).map((p) => path.resolve(p as string)));
  for (const gen of await generations(dir)) {
    if (!kept.has(path.resolve(gen))) await fs.rm(gen, { recursive: true, force: true });
  }
  await removeStaleTemps(dir);
}

/**
 * Publishes the complete generation `gen` of `dir` in one rename of `dir/current`, links its entries, then
 * deletes the generation it replaced and the links to entries it no longer has.
 */
export async function publishGeneration(dir: string, gen: string): Promise<void> {
  const names = await fs.readdir(gen);
  const currentLink = path.join(dir, CURRENT);
  const stat = await fs.lstat(currentLink).catch(() => null);
  if (stat && !stat.isSymbolicLink()) {
    throw new Error(
      `${currentLink}: expected the link to the published generation, found a real file or folder`,
    );
  }
  await adoptPlainFolder(dir, names);
  crashPoint('publish:before-swap');
  await replaceSymlink(currentLink, path.basename(gen));
  crashPoint('publish:after-swap');
  for (const name of names) await linkEntry(dir, name);
  for (const name of await fs.readdir(dir)) {
    const entry = path.join(dir, name);
    const target = await fs.readlink(entry).catch(() => null);
    if (target?.startsWith(`${CURRENT}/`) && !(await fs.stat(entry).catch(() => null))) await fs.rm(entry);
  }
  await removeGenerations(dir, [gen]);
}
