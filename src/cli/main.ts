#!/usr/bin/env node
import { selectBackend } from '../backend/select';
import { UsageError } from './args';

/** One file per command; each exports `run(argv): Promise<number | void>` and a one-line `summary`. */
const COMMANDS: Record<
  string,
  () => Promise<{ run: (argv: string[]) => Promise<number | undefined>; summary: string }>
> = {
  summary: () => import('./summary'),
  export: () => import('./export'),
  serve: () => import('./serve'),
  report: () => import('./report'),
  plot: () => import('./plot'),
  train: () => import('./train'),
  evaluate: () => import('./evaluate'),
  predict: () => import('./predict'),
  demo: () => import('./demo'),
  bench: () => import('./bench'),
};

function usage(): string {
  const lines = [
    'usage: inception <command> [options]   (inception <command> --help for its options)',
    '',
    'commands:',
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const rows = await Promise.all(
      Object.entries(COMMANDS).map(async ([n, load]) => `  ${n.padEnd(10)} ${(await load()).summary}`),
    );
    console.log(`${usage()}\n${rows.join('\n')}`);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load)
    throw new UsageError(`unknown command ${JSON.stringify(name)}; run 'inception --help' for the list`);
  const command = await load();
  await selectBackend();
  const code = await command.run(rest);
  return typeof code === 'number' ? code : 0;
}

// Exit explicitly once the command is done: a stray handle (a pending decode, a timer in a dependency)
// must not keep a finished or interrupted run alive. stdout/stderr are synchronous for files and pipes.
main(process.argv.slice(2)).then(
  (code) => {
    process.exit(code);
  },
  (err: unknown) => {
    const cmd = process.argv[2] && !process.argv[2].startsWith('-') ? ` ${process.argv[2]}` : '';
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`inception${cmd}: error: ${message.split('\n')[0]}\n`);
    if (process.env.INCEPTION_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
