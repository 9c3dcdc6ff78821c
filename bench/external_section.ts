import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, Section, SectionReport } from './types';

/**
 * A section written in its own file `bench/<file>.ts`, which exports
 * `run(ctx: BenchContext): Promise<Partial<SectionReport>>` (a table: columns and rows; see types.ts).
 * While the file is not in the build (its branch not merged yet) the section reports itself missing.
 */
export function externalSection(id: string, title: string, file: string, dir = __dirname): Section {
  return {
    id,
    title,
    async run(ctx: BenchContext): Promise<SectionReport> {
      const empty = { id, title, columns: [], rows: [] };
      const path = join(dir, `${file}.js`);
      if (!existsSync(path))
        return { ...empty, status: 'missing', reason: `bench/${file}.ts is not in this build` };
      try {
        const module = require(path) as { run?: (ctx: BenchContext) => Promise<Partial<SectionReport>> };
        if (typeof module.run !== 'function') throw new Error(`bench/${file}.ts exports no run(ctx)`);
        return { ...empty, status: 'ok', ...(await module.run(ctx)), id };
      } catch (e) {
        const reason = (e as Error).message.split('\n')[0];
        // A tool the section needs that is not installed (a devDependency, in an installed package).
        const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
        return { ...empty, status: missing ? 'missing' : 'failed', reason };
      }
    },
  };
}
