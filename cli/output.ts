import { ERROR_CATALOGUE, ReflexError, type FieldIssue } from '../core/errors.ts';

/**
 * Exit codes of every command (docs/cli.md lists them): scripts tell "fix the command" from "the
 * environment is down" from "that thing does not exist".
 */
export const EXIT = {
  ok: 0,
  /** The command line or its input is wrong, or the API refused the request (4xx other than below). */
  failed: 1,
  /** The environment: the API, a dependency or the port cannot be used; the API key is missing or wrong. */
  environment: 2,
  /** The API answered 404: no run, deployment, automation, delivery or route by that id. */
  notFound: 3,
  /** The API answered 409: the thing is not in a state that allows it (a finished run cannot be cancelled). */
  conflict: 4,
} as const;

/** A CLI error: printed as one line without a stack trace, with its exit code (1 unless told). */
export class CliError extends ReflexError {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super('cli_usage', message);
  }
}

export function fail(message: string, exitCode: number = EXIT.failed): never {
  throw new CliError(message, exitCode);
}

/** Exit code 2: the environment is at fault (a dependency, the port), not the command line. */
const ENVIRONMENT_CODES: ReadonlySet<string> = new Set(['dependency_unavailable', 'dependency_rejected', 'port_in_use']);

/** Prints an error the way a user can act on it and returns the exit code. */
export function report(err: unknown): number {
  if (isReflexError(err)) {
    process.stderr.write(`reflex: ${err.message}\n`);
    for (const i of err.issues ?? []) process.stderr.write(`  ${i.path || '(root)'}: ${i.message}\n`);
    if (typeof err.exitCode === 'number') return err.exitCode;
    return ENVIRONMENT_CODES.has(err.code) ? EXIT.environment : EXIT.failed;
  }
  // commander's own errors (unknown option, missing argument) are printed by commander already.
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' && err.code.startsWith('commander.')) {
    return (err as { exitCode?: number }).exitCode ?? EXIT.failed;
  }
  process.stderr.write(`reflex: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.failed;
}

/**
 * A ReflexError, recognised by its shape: the compiled CLI bundles its own copy of core/errors.ts while
 * engine commands load the sources through tsx, so `instanceof` fails across the two.
 */
function isReflexError(err: unknown): err is Error & { code: string; issues?: FieldIssue[]; exitCode?: number } {
  if (err instanceof ReflexError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code) && Array.isArray((err as { issues?: unknown }).issues);
}
