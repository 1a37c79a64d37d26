import { ReflexError } from '../core/errors.ts';

/** A CLI error: printed as one line without a stack trace, exit code 1. */
export class CliError extends ReflexError {
  constructor(message: string) {
    super('cli_usage', message);
  }
}

export function fail(message: string): never {
  throw new CliError(message);
}

/** Prints an error the way a user can act on it and returns the exit code. */
export function report(err: unknown): number {
  if (err instanceof ReflexError) {
    process.stderr.write(`reflex: ${err.message}\n`);
    if (err instanceof ReflexError) for (const i of err.issues) process.stderr.write(`  ${i.path || '(root)'}: ${i.message}\n`);
    return err instanceof ReflexError && err.code === 'dependency_unavailable' ? 2 : 1;
  }
  process.stderr.write(`reflex: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
