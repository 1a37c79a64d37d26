import { storableText } from './text.ts';

/**
 * One error model. Every error Reflex raises on purpose is a ReflexError with a stable `code` from the
 * catalogue below: the code's HTTP status (where it has one: the API answers with it), and what a user
 * should do about it (docs/errors.md lists the catalogue; a test keeps the two in step). The message says
 * what happened to this request; `issues` name the fields at fault; `cause` keeps the underlying error.
 */
export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, action: 'Fix the fields named in `issues` (each has a `path` and a `message`).' },
  unauthorized: { status: 401, action: 'Send `Authorization: Bearer <REFLEX_API_KEY>`, or sign in to the dashboard with the key.' },
  forbidden: { status: 403, action: 'A change authenticated by the dashboard session cookie must come from the dashboard itself (same origin, with `x-reflex-csrf: 1`); scripts send `Authorization: Bearer <REFLEX_API_KEY>`.' },
  not_found: { status: 404, action: 'Check the id or name; list the collection to find it.' },
  conflict: { status: 409, action: 'A resource with that name exists (choose another, or update it), or it changed meanwhile (read it again and retry).' },
  deployment_paused: { status: 409, action: 'Resume the deployment (`POST /api/deployments/<id>/resume`) to create runs.' },
  work_pool_paused: { status: 409, action: 'Resume the work pool (`POST /api/work-pools/<name>/resume`) to create runs.' },
  transition_refused: { status: 409, action: 'The run is not in a state that allows this change; the message says which moves are allowed (or use `force`).' },
  replay_failed: { status: 409, action: 'The message still cannot be stored; fix its cause or replay a corrected event.' },
  payload_too_large: { status: 413, action: 'Send less: the message names the limit and its setting.' },
  unsupported_media_type: { status: 415, action: 'Send one of the content types the message lists.' },
  dependency_unavailable: { status: 503, action: 'A dependency (named in the message) is down or unreachable: start it, or retry after `Retry-After` seconds.' },
  config_invalid: { status: 500, action: 'Fix the environment variable or option named in the message.' },
  internal: { status: 500, action: 'A bug: the server log has the details; please report it.' },
  // Outcomes of actions and runs, not answers of the API.
  action_failed: { action: 'The automation action could not be performed: its reason is in the firing history; fix the template, target or destination.' },
  destination_blocked: { action: 'Webhooks to private, loopback and link-local addresses are refused; add the host to REFLEX_WEBHOOK_ALLOW_HOSTS to allow it.' },
  concurrency_timeout: { action: 'No slot of the concurrency limit became free in time: raise the limit or the timeout.' },
  run_cancelled: { action: 'The run was cancelled (by a request, an automation or its parent); nothing to fix.' },
  run_timeout: { action: 'The flow or task ran longer than its `timeoutSeconds`: raise it, or make the work shorter.' },
  non_retriable: { action: 'The flow or task gave up without retrying, as its code asked.' },
  parameters_invalid: { action: "Call the flow with parameters that match its `parameters` schema (the issues name the fields)." },
  sdk_usage: { action: 'A flow, task or SDK call was written the wrong way; the message says how to fix the call.' },
  cli_usage: { action: 'Fix the command line as the message says (`reflex --help`).' },
  // Operating Reflex (issue 14): start-up failures that name their cause.
  port_in_use: { action: 'Another process listens on the address: stop it, or set REFLEX_PORT (and REFLEX_HOST) to a free one.' },
  dependency_rejected: { status: 503, action: 'The dependency is up but refused the connection (wrong role, password or database): fix the credentials in its URL variable.' },
  // Performance end to end (issue 12): ingest pushes back instead of queueing without bound.
  ingest_overloaded: { status: 503, action: 'The engine is behind (the message says by how many events): send again after `Retry-After` seconds, or slower.' },
  // Secrets (issue 13).
  secrets_not_configured: { status: 422, action: 'Set REFLEX_SECRETS_KEY (32 bytes in base64: `openssl rand -base64 32`) on every Reflex process, then store the secret again.' },
  secret_access_denied: { status: 403, action: 'Grant the requester (named in the message) the secret: `reflex secret set <name> --allow-deployment/--allow-work-pool/--allow-automation`.' },
} as const satisfies Record<string, { status?: number; action: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `[3].resource.reflex.resource.id`. */
  path: string;
  message: string;
}

/** An error as it crosses the wire or is stored with a run: structured, never a bare string. */
export interface SerializedError {
  name: string;
  message: string;
  code: string | null;
  stack: string | null;
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
  /** The HTTP status of the code, or 500 for codes that are not answers of the API. */
  get status(): number {
    const entry = ERROR_CATALOGUE[this.code];
    return 'status' in entry ? entry.status : 500;
  }
  toJSON(): { code: ErrorCode; message: string; issues: FieldIssue[] } {
    return { code: this.code, message: this.message, issues: this.issues };
  }
}

export class ValidationError extends ReflexError {
  constructor(message: string, issues: FieldIssue[] = []) {
    super('invalid_request', message, { issues });
  }

  /**
   * From zod issues (or anything with a path and a message): the message lists every problem by path,
   * optionally under `prefix` (the field holding a nested document). The one formatter of zod issues.
   */
  static fromIssues(
    what: string,
    issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
    prefix: ReadonlyArray<PropertyKey> = [],
  ): ValidationError {
    const fields = toFieldIssues(issues, prefix);
    return new ValidationError(`invalid ${what}: ${describeIssues(fields)}`, fields);
  }
}

export class NotFoundError extends ReflexError {
  constructor(what: string, id: string) {
    super('not_found', `${what} "${id}" does not exist`);
  }
}

export class ConflictError extends ReflexError {
  constructor(message: string, code: 'conflict' | 'deployment_paused' | 'work_pool_paused' | 'transition_refused' | 'replay_failed' = 'conflict') {
    super(code, message);
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

/** The API could not listen: the address is taken (or not ours to bind). Nothing else was started. */
export class PortInUseError extends ReflexError {
  constructor(address: string, reason: string, cause?: unknown) {
    super('port_in_use', `cannot listen on ${address}: ${reason}. Stop the process that holds it, or set REFLEX_PORT to a free port.`, { cause });
  }
}

/**
 * A dependency answered but refused us: PostgreSQL's authentication or role errors (class 28, or a missing
 * database we may not create). Told apart from an outage because "start it" is the wrong advice.
 */
export class DependencyRejectedError extends ReflexError {
  readonly dependency: string;
  constructor(dependency: string, target: string, hint: string, cause?: unknown) {
    const reason = cause instanceof Error ? cause.message : cause ? String(cause) : 'refused';
    super('dependency_rejected', `${dependency} at ${target} is up but refused the connection (${reason}). ${hint}`, { cause });
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

/** `path: message; path: message` for one line of text. */
export function describeIssues(issues: ReadonlyArray<FieldIssue>): string {
  return issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** How long a stored stack may be: enough to find the line, not enough to bloat every state event. */
const MAX_STACK = 4000;

/** Anything thrown, as a structured error to store with a run or send over the wire. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const raw = (err as Error & { code?: unknown }).code;
    const code = typeof raw === 'string' ? raw : null;
    return { name: storableText(err.name), message: storableText(err.message.slice(0, 2000)), code, stack: err.stack ? storableText(err.stack.slice(0, MAX_STACK)) : null };
  }
  return { name: 'Error', message: storableText(String(err).slice(0, 2000)), code: null, stack: null };
}

/**
 * Ingest refuses events while the engine is more than REFLEX_INGEST_MAX_LAG events behind (issue 12):
 * the API answers it 503 with `Retry-After`, so a client backs off instead of the backlog growing.
 */
export class IngestOverloadedError extends ReflexError {
  constructor(
    readonly lag: number,
    readonly bound: number,
    readonly retryAfterSeconds: number,
  ) {
    super('ingest_overloaded', `the engine is ${lag} events behind (more than REFLEX_INGEST_MAX_LAG=${bound}); retry after ${retryAfterSeconds} s`);
  }
}
