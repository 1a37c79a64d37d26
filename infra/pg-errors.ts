/**
 * What a PostgreSQL failure means for the caller, from its SQLSTATE (or, for failures below SQL, the
 * socket error): the one place that reads those codes.
 * - `unavailable`: the server is down, restarting or unreachable; the same statement may succeed later.
 * - `data`: the statement's data is at fault (class 22 data exception, 23 integrity violation); retrying
 *   the same data cannot help.
 * - `other`: anything else (a bug, a permission, a missing table).
 */
export type PgErrorKind = 'unavailable' | 'data' | 'other';

/** Socket errors of a connection that could not be made or broke (any client library). */
export const SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Raised by pg without a code when the socket closes under it, and by pg-pool when no connection comes. */
const SOCKET_MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /connection (?:is )?closed/i, /client has encountered a connection error/i, /not queryable/i];

export function pgErrorKind(err: unknown): PgErrorKind {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now; 53300 too many connections.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || SOCKET_CODES.has(code)) return 'unavailable';
    if (code.startsWith('22') || code.startsWith('23')) return 'data';
    if (/^[0-9A-Z]{5}$/.test(code)) return 'other';
  }
  const message = err instanceof Error ? err.message : '';
  return SOCKET_MESSAGES.some((re) => re.test(message)) ? 'unavailable' : 'other';
}

export const isUniqueViolation = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === '23505';

/**
 * Whether PostgreSQL answered but refused who we are: class 28 (a role that does not exist, a wrong
 * password, no pg_hba entry) or 42501 (the role may not connect or create the database). The server is
 * up, so the advice is to fix REFLEX_DATABASE_URL, not to start PostgreSQL.
 */
export function isPgAuthError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('28') || code === '42501');
}

/** Retries of a read held by `whileUnavailable` start this far apart and double up to the maximum. */
const RETRY_MS = { first: 100, max: 2000 };

/**
 * Runs a read again while PostgreSQL is unavailable, until `patienceMs` has passed (then the last error
 * is thrown). Code executing a run reads as well as writes: a read failing during a restart must wait
 * like the run's held writes do, or the run dies between two writes that would both have succeeded.
 */
export async function whileUnavailable<T>(read: () => Promise<T>, patienceMs: number): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (let delay = RETRY_MS.first; ; delay = Math.min(delay * 2, RETRY_MS.max)) {
    try {
      return await read();
    } catch (err) {
      if (pgErrorKind(err) !== 'unavailable' || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
