import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'inception-net';

let found: { root: string; version: string } | undefined;

/** This package's folder and manifest version, found once (the addon loader and doctor both ask). */
function ownPackage(): { root: string; version: string } {
  if (found) return found;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (manifest.name === PACKAGE_NAME) {
        found = { root: dir, version: manifest.version };
        return found;
      }
    } catch {
      // no package.json here, or not ours: keep walking
    }
    if (path.dirname(dir) === dir) throw new Error(`${__dirname}: not inside the ${PACKAGE_NAME} package`);
  }
}

/**
 * The folder holding this package's package.json: the git checkout, or node_modules/inception-net once
 * installed. Found by walking up from this file, so it holds from dist/src/io/ and src/io/ alike.
 */
export function packageRoot(): string {
  return ownPackage().root;
}

/** The package's own version (package.json). */
export function packageVersion(): string {
  return ownPackage().version;
}
