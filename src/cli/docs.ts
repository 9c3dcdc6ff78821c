import type { CommandSpec } from './flags';
import { commandMarkdown } from './help';

/**
 * Every command whose flags docs/cli.md documents, in the order it lists them; each module exports its
 * `command` table (test/cli_flags.test.ts fails when a command module is missing here).
 */
export const DOCUMENTED_COMMANDS: Record<string, () => Promise<{ command: CommandSpec<any> }>> = {
  summary: () => import('./summary'),
  plot: () => import('./plot'),
  train: () => import('./train'),
  evaluate: () => import('./evaluate'),
  predict: () => import('./predict'),
  export: () => import('./export'),
  serve: () => import('./serve'),
  report: () => import('./report'),
  demo: () => import('./demo'),
  bench: () => import('./bench'),
};

/** docs/cli.md: the reference of every command, generated from the same tables as --help. */
export async function cliReferenceMarkdown(): Promise<string> {
  const specs = await Promise.all(
    Object.values(DOCUMENTED_COMMANDS).map(async (load) => (await load()).command),
  );
  const index = specs.map((s) => `- [\`inception ${s.name}\`](#inception-${s.name}): ${s.summary}`);
  return [
    '# Command-line reference',
    '',
    '<!-- Generated from the flag tables in src/cli/ by `npm run docs:cli`; edit the tables, not this file. -->',
    '',
    'Every command takes `-h`/`--help` (the same text as below). A bad flag or value is a one-line error and',
    'exit code 2; any other error is a one-line error and exit code 1. `--json`, where a command has it, prints',
    'one JSON document on stdout and nothing else there.',
    '',
    ...index,
    ...specs.flatMap((s) => ['', commandMarkdown(s)]),
    '',
  ].join('\n');
}
