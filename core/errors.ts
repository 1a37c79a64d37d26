/**
 * One catalogue of error codes: each has the HTTP status it maps to. Feature code throws ReflexError
 * subclasses; the API turns them into `{ error: { code, message, issues } }`.
 */
export const ErrorCodes = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  dependency_unavailable: 503,
  config_invalid: 500,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `[3].resource.reflex.resource.id`. */
  path: string;
  message: string;
}

export class ReflexError extends Error {
  readonly code: ErrorCode;
  readonly issues: FieldIssue[];
  constructor(code: ErrorCode, message: string, options: { issues?: FieldIssue[]; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.issues = options.issues ?? [];
  }
  get status(): number {
    return ErrorCodes[this.code];
  }
  toJSON(): { code: ErrorCode; message: string; issues: FieldIssue[] } {
    return { code: this.code, message: this.message, issues: this.issues };
  }
}

export class ValidationError extends ReflexError {
  constructor(message: string, issues: FieldIssue[] = []) {
    super('invalid_request', message, { issues });
  }
}

export class NotFoundError extends ReflexError {
  constructor(what: string, id: string) {
    super('not_found', `${what} "${id}" does not exist`);
  }
}

export class ConflictError extends ReflexError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class PayloadTooLargeError extends ReflexError {
  constructor(message: string, issues: FieldIssue[] = []) {
    super('payload_too_large', message, { issues });
  }
}

export class ConfigError extends ReflexError {
  constructor(message: string) {
    super('config_invalid', message);
  }
}

/**
 * A dependency could not be reached; the message names what was tried and what to do (at start-up: how
 * to start it; on a request: retry later). The API answers it 503 with `Retry-After` and `dependency`.
 */
export class DependencyUnavailableError extends ReflexError {
  /** `NATS`, `Redis` or `PostgreSQL` (`dependencies` when several failed at start-up). */
  readonly dependency: string;
  constructor(dependency: string, target: string, hint: string, cause?: unknown) {
    const reason = cause instanceof Error ? cause.message : cause ? String(cause) : 'no answer';
    super('dependency_unavailable', `cannot reach ${dependency} at ${target} (${reason}). ${hint}`, { cause });
    this.dependency = dependency;
  }
  override toJSON(): ReturnType<ReflexError['toJSON']> & { dependency: string } {
    return { ...super.toJSON(), dependency: this.dependency };
  }
}

/** Converts zod issues (or anything with path + message) into our FieldIssue list. */
export function toFieldIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  prefix: ReadonlyArray<PropertyKey> = [],
): FieldIssue[] {
  return issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message }));
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}
