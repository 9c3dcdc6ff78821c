/**
 * One table per command: each flag's name, type, default, help and group in one place (torchvision's
 * references/classification/train.py style). The parser, the typed values, --help and docs/cli.md all come
 * from it. A command module declares
 *
 *   export const command = defineCommand({
 *     name: 'doctor', usage: '[--json]',
 *     flags: { json: { type: 'boolean', help: 'print one JSON document' } },
 *   });
 *   export async function run(argv: string[]) {
 *     const cmd = parseCommandLine(command, argv); // null after printing --help
 *     if (!cmd) return 0;
 *     cmd.values.json; // boolean, typed from the table
 *   }
 *
 * and is listed, with its one-line summary, in COMMANDS (src/cli/commands.ts); `npm run docs:cli` then rewrites docs/cli.md.
 * A default the library also applies is imported from the library (TRAIN_DEFAULTS, SERVE_DEFAULTS...),
 * never written again here.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './args';
import { flagWithMetavar, formatHelp } from './help';

export type Shape = [number, number, number];

interface FlagCommon {
  /** One line for --help and docs/cli.md; the default is appended from `default` or `defaultText`. */
  help: string;
  /** The value's placeholder in help: `--epochs N`. Choices show as `a|b|c` when absent. */
  metavar?: string;
  /** The --help heading the flag is listed under; flags without one go under "options". */
  group?: string;
  /** The default in words, for one that is not a single value (it depends on the model, the engine...). */
  defaultText?: string;
  /** Absent is a usage error. */
  required?: boolean;
}

/**
 * One command-line flag: its type (how the value is parsed and checked), default, help and where --help
 * lists it. The key of the flag in its table is the flag's name without the dashes.
 */
export type FlagSpec =
  | (FlagCommon & { type: 'boolean' })
  | (FlagCommon & { type: 'string'; default?: string })
  /** An integer in [min, max]; min defaults to 1. */
  | (FlagCommon & { type: 'int'; default?: number; min?: number; max?: number })
  /** A finite number > 0, and < `below` when given (a factor). */
  | (FlagCommon & { type: 'positive'; default?: number; below?: number })
  /** A finite number >= 0, and < `below` when given (a rate, a fraction). */
  | (FlagCommon & { type: 'non-negative'; default?: number; below?: number })
  | (FlagCommon & { type: 'choice'; choices: readonly string[]; default?: string })
  /** H,W,C (or HxWxC) of positive integers. */
  | (FlagCommon & { type: 'shape'; default?: Shape })
  /** A comma-separated list of non-empty items. */
  | (FlagCommon & { type: 'list'; default?: string[] });

export type FlagTable = Record<string, FlagSpec>;

/** A command: what `--help` prints and docs/cli.md shows, and the table its parser checks argv against. */
export interface CommandSpec<F extends FlagTable = FlagTable> {
  name: string;
  /** The synopsis after `inception NAME `, one line (help wraps it), metavars not defaults (those are in the table). */
  usage: string;
  /** Paragraphs printed before the flags. */
  description?: string;
  flags: F;
  /** Operands after the flags, any number from `min` (predict's IMAGE...); absent: none are accepted. */
  positionals?: { metavar: string; help: string; min: number };
  /** Paragraphs printed after the flags. */
  epilog?: string;
}

type FlagValue<S extends FlagSpec> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'int' | 'positive' | 'non-negative' }
    ? number
    : S extends { type: 'choice'; choices: readonly (infer C)[] }
      ? C
      : S extends { type: 'shape' }
        ? Shape
        : S extends { type: 'list' }
          ? string[]
          : string;

/** The parsed values of a table: a flag with a default (or a required one, or a boolean) always has a value. */
export type FlagValues<F extends FlagTable> = {
  -readonly [K in keyof F]: F[K] extends { type: 'boolean' } | { default: unknown } | { required: true }
    ? FlagValue<F[K]>
    : FlagValue<F[K]> | undefined;
};

export interface CommandLine<F extends FlagTable> {
  values: FlagValues<F>;
  /** The flags present on the command line (a default fills the others). */
  given: ReadonlySet<keyof F & string>;
  positionals: string[];
}

/** Declares a command; the `const` parameter keeps each flag's literal type so its value type can follow. */
export function defineCommand<const F extends FlagTable>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec;
}

/** Declares a group of flags shared by several commands (spread into their tables). */
export function defineFlags<const F extends FlagTable>(flags: F): F {
  return flags;
}

/** Parses one flag's text, or throws the UsageError that echoes it. */
export function parseFlagValue(name: string, spec: FlagSpec, raw: string): unknown {
  const bad = (what: string) => new UsageError(`--${name} must be ${what}, got ${JSON.stringify(raw)}`);
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  switch (spec.type) {
    case 'boolean':
    case 'string':
      return raw;
    case 'int': {
      const min = spec.min ?? 1;
      const max = spec.max ?? Infinity;
      if (Number.isInteger(n) && n >= min && n <= max) return n;
      throw bad(max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`);
    }
    case 'positive': {
      const below = spec.below ?? Infinity;
      if (Number.isFinite(n) && n > 0 && n < below) return n;
      throw bad(below === Infinity ? 'a positive number' : `a number in (0, ${below})`);
    }
    case 'non-negative': {
      const below = spec.below ?? Infinity;
      if (Number.isFinite(n) && n >= 0 && n < below) return n;
      throw bad(below === Infinity ? 'a number >= 0' : `a number in [0, ${below})`);
    }
    case 'choice':
      if (spec.choices.includes(raw)) return raw;
      throw bad(`one of ${spec.choices.join(', ')}`);
    case 'shape': {
      const parts = raw.split(/[,x]/).map((p) => (p.trim() === '' ? Number.NaN : Number(p)));
      if (parts.length === 3 && parts.every((d) => Number.isInteger(d) && d > 0)) return parts;
      throw bad('H,W,C (e.g. 224,224,3)');
    }
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (items.length) return items;
      throw bad('a comma-separated list');
    }
  }
}

/**
 * Parses argv against the command's table, strictly: an unknown flag, a missing value, a bad value or a
 * missing required flag is a UsageError (exit 2) that names the flag and echoes the value. `--help`/`-h`
 * prints the help generated from the same table and returns null.
 */
export function parseCommandLine<F extends FlagTable>(
  spec: CommandSpec<F>,
  argv: string[],
): CommandLine<F> | null {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = { type: flag.type === 'boolean' ? 'boolean' : 'string' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options,
      allowPositionals: spec.positionals !== undefined,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  if (parsed.values.help) {
    console.log(formatHelp(spec));
    return null;
  }
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [name, flag] of Object.entries(spec.flags)) {
    const raw = parsed.values[name];
    if (raw === undefined) {
      if (flag.required) throw new UsageError(`${flagWithMetavar(name, flag)} is required`);
      values[name] = flag.type === 'boolean' ? false : flag.default;
      continue;
    }
    given.add(name);
    values[name] = typeof raw === 'boolean' ? raw : parseFlagValue(name, flag, raw as string);
  }
  const positionals = parsed.positionals;
  if (spec.positionals && positionals.length < spec.positionals.min) {
    const { min, metavar } = spec.positionals;
    throw new UsageError(`give at least ${min === 1 ? 'one' : min} ${metavar}`);
  }
  return { values: values as FlagValues<F>, given: given as Set<keyof F & string>, positionals };
}
