import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'inception-net';

/**
 * The folder holding this package's package.json: the git checkout, or node_modules/inception-net once
 * installed. Found by walking up from this file, so it holds from dist/src/io/ and src/io/ alike.
 */
export function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (manifest.name === PACKAGE_NAME) return dir;
    } catch {
      // no package.json here, or not ours: keep walking
    }
    if (path.dirname(dir) === dir) throw new Error(`${from}: not inside the ${PACKAGE_NAME} package`);
  }
}

/** The package's own version (package.json). */
export function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
}
