/** A mistake in how the command was called: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {}
