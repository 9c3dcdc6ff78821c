import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

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
  const tmp = path.join(parent, `.${base}.${tag}.tmp`);
  const old = path.join(parent, `${OLD_PREFIX}${base}.${tag}`);
  await fs.mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
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
