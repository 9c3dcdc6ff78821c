import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

// The one place that makes writes appear whole: every file, folder and link replacement goes through here.

/** Where a test may kill the process (INCEPTION_CRASH_AT=name) to check that a kill there loses nothing. */
export function crashPoint(name: string): void {
  if (process.env.INCEPTION_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

/** Suffix of every temporary name made here; a `*.tmp` left by a kill is stale and removeStaleTemps deletes it. */
const TMP_SUFFIX = '.tmp';

/** A fresh temporary name beside `target`, in the `.NAME.HEX.tmp` form removeStaleTemps deletes. */
export function tempSibling(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`,
  );
}

/** The error of a failed write, naming the file (Node's ENOSPC message names none). */
export function writeError(file: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  if (err?.message?.startsWith(file)) return err;
  const reason = err?.code === 'ENOSPC' ? 'no space left on device' : (err?.message ?? String(e));
  return Object.assign(new Error(`${file}: cannot write: ${reason}`), { code: err?.code });
}

/** Writes a file so that readers see the old content or the new one, never half of it: temp file + rename. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = tempSibling(file);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw writeError(file, e);
  }
}

/** Points `link` at `target` (relative to the link's folder) in one rename: readers see the old target or the new. */
export async function replaceSymlink(link: string, target: string): Promise<void> {
  const tmp = tempSibling(link);
  await fs.symlink(target, tmp);
  try {
    await fs.rename(tmp, link);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw writeError(link, e);
  }
}

/** Copies a tree as hard links (files written here are replaced by rename, never changed in place). */
export async function linkTree(src: string, dst: string): Promise<void> {
  const stat = await fs.lstat(src);
  if (stat.isDirectory()) {
    await fs.mkdir(dst, { recursive: true });
    for (const name of await fs.readdir(src)) await linkTree(path.join(src, name), path.join(dst, name));
  } else if (stat.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(src), dst);
  } else {
    await fs.link(src, dst).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EXDEV' || e.code === 'EPERM') return fs.copyFile(src, dst);
      throw e;
    });
  }
}

/** Deletes the `*.tmp` entries directly in `dir` that a killed write left behind. */
export async function removeStaleTemps(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith('.') && name.endsWith(TMP_SUFFIX)) {
      await fs.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }
}

const OLD_PREFIX = '.old-';

/**
 * Replaces the folder `dir` as a whole: `fill` writes the new content into a sibling temp folder, which is then
 * swapped in by rename. Readers see the old folder or the new one; if the process dies between the two renames,
 * `resolveAtomicDir` finds the old copy.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  await fs.mkdir(parent, { recursive: true });
  const tag = randomBytes(6).toString('hex');
  const tmp = path.join(parent, `.${base}.${tag}${TMP_SUFFIX}`);
  const old = path.join(parent, `${OLD_PREFIX}${base}.${tag}`);
  await fs.mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    // Name the folder being written, not its temporary name.
    if (e instanceof Error) e.message = e.message.split(tmp).join(dir);
    throw e;
  }
  crashPoint('dir:before-swap');
  const hadOld = await fs
    .rename(dir, old)
    .then(() => true)
    .catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    });
  await fs.rename(tmp, dir);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/** `dir` if it exists, else the copy a crash mid-swap left behind, else null. */
export async function resolveAtomicDir(dir: string): Promise<string | null> {
  if (
    await fs.stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    )
  )
    return dir;
  const parent = path.dirname(dir);
  const prefix = `${OLD_PREFIX}${path.basename(dir)}.`;
  const names = await fs.readdir(parent).catch(() => [] as string[]);
  const old = names.find((n) => n.startsWith(prefix));
  return old ? path.join(parent, old) : null;
}
