import type { HttpOutcome } from './http.ts';

const MAX_DELAY_MS = 30 * 60 * 1000;

export type AttemptVerdict = 'succeeded' | 'retry' | 'failed';

/**
 * 2xx succeeds; network errors, timeouts, 408, 429 and 5xx are retried; other statuses and permanent errors
 * (a refused destination, an unsendable request) fail at once.
 */
export function judge(outcome: HttpOutcome): AttemptVerdict {
  if (outcome.kind === 'error') return outcome.permanent ? 'failed' : 'retry';
  const s = outcome.status;
  if (s >= 200 && s < 300) return 'succeeded';
  if (s === 408 || s === 429 || s >= 500) return 'retry';
  return 'failed';
}

/**
 * Delay before attempt `nextAttempt` (2, 3, ...): the base delay times 3 per attempt with ±20% jitter,
 * each delay capped at 30 minutes; a `Retry-After` (seconds or HTTP date) from the receiver wins when
 * longer. With the defaults (8 attempts, 5 s) the series spans about an hour:
 * 5 s, 15 s, 45 s, 2¼ min, 6¾ min, 20 min, 30 min.
 */
export function retryDelayMs(
  baseSeconds: number,
  nextAttempt: number,
  retryAfter: string | undefined,
  now = Date.now(),
  random = Math.random,
): number {
  const exponential = Math.min(baseSeconds * 1000 * 3 ** (nextAttempt - 2), MAX_DELAY_MS);
  const jittered = exponential * (0.8 + 0.4 * random());
  const hinted = parseRetryAfter(retryAfter, now);
  return Math.round(hinted !== null ? Math.max(hinted, jittered) : jittered);
}

export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, 3_600_000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.min(Math.max(0, date - now), 3_600_000);
}
