import { ImageDecodeError } from './decode';
import type { BadFilePolicy } from './types';

/** Reports a skipped file through Node's warning channel (stderr) when the caller gave no onSkip. */
function warnSkipped(path: string, reason: string): void {
  process.emitWarning(`${path}: skipped (${reason})`, 'ImageSkipped');
}

/**
 * Deals with an error met while decoding a dataset file: rethrows it under the `error` policy, or when it is
 * not a bad image (a bug, out of memory); under `skip` tells onSkip and returns, so the caller counts it.
 */
export function handleBadFile(
  error: unknown,
  policy: BadFilePolicy = 'error',
  onSkip: (path: string, reason: string) => void = warnSkipped,
): void {
  if (policy !== 'skip' || !(error instanceof ImageDecodeError)) throw error;
  onSkip(error.path, error.reason);
}
