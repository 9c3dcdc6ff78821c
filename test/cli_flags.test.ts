// The CLI's flag tables: the parser, --help and docs/cli.md all come from them, and stay in step.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../src/cli/args';
import { COMMANDS } from '../src/cli/commands';
import { cliReferenceMarkdown } from '../src/cli/docs';
import {
  type CommandSpec,
  defineCommand,
  type FlagSpec,
  parseCommandLine,
  parseFlagValue,
} from '../src/cli/flags';
import { formatHelp } from '../src/cli/help';
import { googlenetArgsFromFlags } from '../src/cli/model_flags';
import { command as serveCommand } from '../src/cli/serve';
import { command as trainCommand } from '../src/cli/train';
import { SERVE_DEFAULTS } from '../src/serve/server';
import { REDUCE_LR_DEFAULTS } from '../src/training/reduce_lr_on_plateau';
import { TRAIN_DEFAULTS } from '../src/training/train_classifier';

const ROOT = path.join(__dirname, '..', '..');

/** Every command module, with its table. */
async function commands(): Promise<{ name: string; module: any; spec: CommandSpec }[]> {
  return Promise.all(
    Object.entries(COMMANDS).map(async ([name, entry]) => {
      const module = await entry.load();
      return { name, module, spec: module.command };
    }),
  );
}

/** A value each type accepts, as typed on the command line. */
function sample(flag: FlagSpec): string {
  switch (flag.type) {
    case 'choice':
      return flag.choices[flag.choices.length - 1];
    case 'int':
      return String((flag.min ?? 1) + 1);
    case 'positive':
      return '0.5';
    case 'non-negative':
      return '0';
    case 'shape':
      return '48,40,3';
    case 'list':
      return 'a,b';
    default:
      return 'some-value';
  }
}

/** The flags a command cannot run without, and an operand where it takes some. */
function minimalArgv(spec: CommandSpec): string[] {
  const argv = Object.entries(spec.flags)
    .filter(([, flag]) => flag.required)
    .flatMap(([name, flag]) => [`--${name}`, sample(flag)]);
  return spec.positionals ? [...argv, 'x.png'] : argv;
}

async function captureStdout(work: () => Promise<unknown>): Promise<{ result: unknown; text: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  try {
    return { result: await work(), text: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

test('docs/cli.md is generated from the tables (regenerate with npm run docs:cli)', async () => {
  const docs = readFileSync(path.join(ROOT, 'docs', 'cli.md'), 'utf8');
  assert.equal(docs, await cliReferenceMarkdown(), 'docs/cli.md is stale: run npm run docs:cli');
});

test('every command module with a table is documented, under its own name', async () => {
  const withTable = readdirSync(path.join(ROOT, 'src', 'cli'))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) =>
      /^export const command = defineCommand\(/m.test(readFileSync(path.join(ROOT, 'src', 'cli', f), 'utf8')),
    )
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
  assert.deepEqual(withTable, Object.keys(COMMANDS).sort());
  for (const { name, spec } of await commands()) {
    assert.equal(spec.name, name);
    assert.ok(COMMANDS[name].summary.length > 0, `${name} has a one-line summary`);
  }
});

test('--help of every command is the generated text and shows every flag and its default', async () => {
  for (const { name, module, spec } of await commands()) {
    const { result, text } = await captureStdout(() => module.run(['--help']));
    assert.equal(result, 0, name);
    assert.equal(text, formatHelp(spec), name);
    for (const [flag, flagSpec] of Object.entries(spec.flags)) {
      assert.match(text, new RegExp(`^  --${flag}\\b`, 'm'), `${name} --help lists --${flag}`);
      if ('default' in flagSpec && flagSpec.default !== undefined && !Array.isArray(flagSpec.default)) {
        // Wrapping may break the line inside the parentheses.
        const unwrapped = text.replace(/\s+/g, ' ');
        assert.ok(unwrapped.includes(`(default ${flagSpec.default})`), `${name} --${flag} shows its default`);
      }
    }
    for (const [, used] of spec.usage.matchAll(/--([a-z0-9-]+)/g)) {
      assert.ok(used in spec.flags, `${name}: usage names --${used}, which is not in its table`);
    }
    for (const line of text.split('\n')) assert.ok(line.length <= 110, `${name}: long help line: ${line}`);
  }
});

test('every flag of every table is accepted by its parser, and its default is a value it accepts', async () => {
  for (const { name, spec } of await commands()) {
    for (const [flag, flagSpec] of Object.entries(spec.flags)) {
      const argv = [
        ...minimalArgv(spec),
        `--${flag}`,
        ...(flagSpec.type === 'boolean' ? [] : [sample(flagSpec)]),
      ];
      const parsed = parseCommandLine(spec, argv);
      assert.ok(parsed, `${name} ${argv.join(' ')}`);
      assert.ok(parsed.given.has(flag), `${name} --${flag}`);
      const expected = flagSpec.type === 'boolean' ? true : parseFlagValue(flag, flagSpec, sample(flagSpec));
      assert.deepEqual((parsed.values as any)[flag], expected, `${name} --${flag}`);
      if (flagSpec.type !== 'boolean' && flagSpec.default !== undefined) {
        const text = Array.isArray(flagSpec.default) ? flagSpec.default.join(',') : String(flagSpec.default);
        assert.deepEqual(parseFlagValue(flag, flagSpec, text), flagSpec.default, `${name} --${flag} default`);
      }
    }
    const defaults = parseCommandLine(spec, minimalArgv(spec));
    assert.ok(defaults && defaults.given.size === minimalArgv(spec).filter((a) => a.startsWith('--')).length);
  }
});

test('bad values and unknown flags are usage errors that name the flag and echo the value', async () => {
  for (const { name, spec } of await commands()) {
    for (const [flag, flagSpec] of Object.entries(spec.flags)) {
      if (flagSpec.type === 'boolean' || flagSpec.type === 'string' || flagSpec.type === 'list') continue;
      assert.throws(
        () => parseCommandLine(spec, [...minimalArgv(spec), `--${flag}`, 'nope']),
        (e: Error) =>
          e instanceof UsageError &&
          e.message.startsWith(`--${flag} must be `) &&
          e.message.endsWith(', got "nope"'),
        `${name} --${flag} nope`,
      );
    }
    assert.throws(() => parseCommandLine(spec, ['--no-such-flag']), UsageError, name);
  }
  const parse = (...argv: string[]) => parseCommandLine(trainCommand, ['--data', 'd', ...argv]);
  assert.throws(() => parse('--epochs', 'x'), { message: '--epochs must be an integer >= 1, got "x"' });
  assert.throws(() => parse('--epochs', ''), { message: '--epochs must be an integer >= 1, got ""' });
  assert.throws(() => parse('--val-split', '1'), {
    message: '--val-split must be a number in [0, 1), got "1"',
  });
  assert.throws(() => parse('--lr', '-1e-3'), UsageError);
  assert.throws(() => parse('--epochs'), /argument missing/);
  assert.throws(() => parse('--resume=yes'), UsageError);
  assert.throws(() => parse('extra'), UsageError, 'train takes no operands');
  assert.throws(() => parse('--reduce-lr-factor', '0'), {
    message: '--reduce-lr-factor must be a number in (0, 1), got "0"',
  });
  assert.throws(
    () => googlenetArgsFromFlags(parse('--input-size', '64', '--input-shape', '32,32,3')!.values),
    {
      message: 'give either --input-size or --input-shape, not both',
    },
  );
  assert.throws(() => parseCommandLine(serveCommand, ['--port', '65536']), {
    message: '--port must be an integer in [0, 65535], got "65536"',
  });
  const required = defineCommand({
    name: 't',
    usage: '--out PATH',
    flags: { out: { type: 'string', metavar: 'PATH', required: true, help: 'h' } },
    positionals: { metavar: 'IMAGE', help: 'files', min: 1 },
  });
  assert.throws(() => parseCommandLine(required, ['a']), { message: '--out PATH is required' });
  assert.throws(() => parseCommandLine(required, ['--out', 'o']), { message: 'give at least one IMAGE' });
});

test('values are typed from the table and defaults come from the library', () => {
  const parsed = parseCommandLine(trainCommand, [
    '--data',
    'd',
    '--optimizer',
    'sgd',
    '--input-shape',
    '64x64x3',
  ])!;
  // Compile-time checks as much as run-time ones: these assignments type-check only if inference works.
  const epochs: number = parsed.values.epochs;
  const optimizer: 'adam' | 'rmsprop' | 'sgd' = parsed.values.optimizer;
  const shape: [number, number, number] | undefined = parsed.values['input-shape'];
  const resume: boolean = parsed.values.resume;
  const patience: number | undefined = parsed.values['early-stopping-patience'];
  assert.deepEqual(
    [epochs, optimizer, shape, resume, patience],
    [TRAIN_DEFAULTS.epochs, 'sgd', [64, 64, 3], false, undefined],
  );
  assert.deepEqual([...parsed.given].sort(), ['data', 'input-shape', 'optimizer']);
  assert.equal(parsed.values['batch-size'], TRAIN_DEFAULTS.batchSize);
  assert.equal(parsed.values.lr, TRAIN_DEFAULTS.learningRate);
  assert.equal(parsed.values['val-split'], TRAIN_DEFAULTS.valSplit);
  assert.equal(parsed.values['reduce-lr-patience'], REDUCE_LR_DEFAULTS.patience);
  const served = parseCommandLine(serveCommand, ['--model', 'cifar10'])!;
  assert.deepEqual(
    [
      served.values.port,
      served.values.host,
      served.values['max-batch'],
      served.values['max-body-mb'] * 2 ** 20,
    ],
    [SERVE_DEFAULTS.port, SERVE_DEFAULTS.host, SERVE_DEFAULTS.maxBatch, SERVE_DEFAULTS.maxBodyBytes],
  );
  assert.equal(parseCommandLine(trainCommand, ['-h']), null);
});
