import { COMMANDS } from './commands';
import { commandMarkdown } from './help';

/** docs/cli.md: the reference of every command, generated from the same tables as --help. */
export async function cliReferenceMarkdown(): Promise<string> {
  const specs = await Promise.all(Object.values(COMMANDS).map(async (c) => (await c.load()).command));
  const summaryOf = (name: string) => COMMANDS[name].summary;
  const index = specs.map((s) => `- [\`inception ${s.name}\`](#inception-${s.name}): ${summaryOf(s.name)}`);
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
    ...specs.flatMap((s) => ['', commandMarkdown(s, summaryOf(s.name))]),
    '',
  ].join('\n');
}
