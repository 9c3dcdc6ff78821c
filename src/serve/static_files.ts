import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** A file served from memory. */
export interface StaticFile {
  type: string;
  body: Uint8Array;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export function contentType(name: string): string {
  return TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Every file directly in `dir`, keyed by `prefix + name`: a fixed table, so request paths are looked up,
 * never joined onto the file system. A missing folder gives an empty table.
 */
export async function loadStaticFolder(dir: string, prefix: string): Promise<Map<string, StaticFile>> {
  const table = new Map<string, StaticFile>();
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    table.set(`${prefix}${e.name}`, {
      type: contentType(e.name),
      body: await fs.readFile(path.join(dir, e.name)),
    });
  }
  return table;
}

/** The bundled browser page: `npm run build` writes it to dist/web next to dist/src. */
export const WEB_DIST_DIR = path.resolve(__dirname, '..', '..', 'web');
