import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A mistake in how the command was called: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv strictly (unknown flags are errors) and returns the typed values and positionals. */
export function parse(
  argv: string[],
  options: Options,
  allowPositionals = false,
): { values: Record<string, any>; positionals: string[] } {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
}

/** Parses a positive integer flag, echoing the bad value. */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses a positive number flag, echoing the bad value. */
export function numberFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses `224,224,3`. */
export function shapeFlag(
  name: string,
  value: string | undefined,
  fallback: [number, number, number],
): [number, number, number] {
  if (value === undefined) return fallback;
  const parts = value.split(/[,x]/).map(Number);
  if (parts.length !== 3 || !parts.every((d) => Number.isInteger(d) && d > 0)) {
    throw new UsageError(`--${name} must be H,W,C (e.g. 224,224,3), got ${JSON.stringify(value)}`);
  }
  return parts as [number, number, number];
}

/** Parses a number flag that may be 0 (a rate floor, a fraction), echoing the bad value. */
export function nonNegativeFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n >= max) {
    const range = max === Infinity ? '>= 0' : `in [0, ${max})`;
    throw new UsageError(`--${name} must be a number ${range}, got ${JSON.stringify(value)}`);
  }
  return n;
}
