#!/usr/bin/env node
import { UsageError } from './args';
import { COMMANDS } from './commands';

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'usage: inception <command> [options]   (inception <command> --help for its options)',
    '',
    'commands:',
    ...rows,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (!Object.hasOwn(COMMANDS, name))
    throw new UsageError(`unknown command ${JSON.stringify(name)}; run 'inception --help' for the list`);
  const command = COMMANDS[name];
  await command.beforeEngine?.(rest);
  // Imported here, not at the top: `--help` should not load tfjs.
  const { selectBackend } = await import('../backend/select');
  await selectBackend(undefined, command.inference ? 'wasm' : 'cpu');
  const code = await (await command.load()).run(rest);
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
