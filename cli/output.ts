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

/** Exit code 2: the environment is at fault (a dependency, the port), not the command line (docs/cli.md). */
const EXIT_2: ReadonlySet<string> = new Set(['dependency_unavailable', 'dependency_rejected', 'port_in_use']);

/** Prints an error the way a user can act on it and returns the exit code. */
export function report(err: unknown): number {
  if (err instanceof ReflexError) {
    process.stderr.write(`reflex: ${err.message}\n`);
    if (err instanceof ReflexError) for (const i of err.issues) process.stderr.write(`  ${i.path || '(root)'}: ${i.message}\n`);
    return EXIT_2.has(err.code) ? 2 : 1;
  }
  process.stderr.write(`reflex: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
