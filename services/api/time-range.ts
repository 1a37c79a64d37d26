import { z } from 'zod';
import { ValidationError } from '../../core/errors.ts';

/**
 * Time ranges of the dashboard's endpoints: `since` (inclusive) and `until` (exclusive), ISO-8601. Every
 * endpoint is bounded: without `since` the range is the last 24 hours, and a range longer than the
 * endpoint allows is refused with 400 rather than scanning a year of rows.
 */
export const TimeRangeQuery = {
  since: z.iso.datetime({ offset: true }).optional().describe('Start, inclusive (default: 24 h before `until`).'),
  until: z.iso.datetime({ offset: true }).optional().describe('End, exclusive (default: now).'),
};

export const DAY_MS = 24 * 3600 * 1000;

export function resolveRange(q: { since?: string; until?: string }, maxMs: number, now = Date.now()): { since: string; until: string } {
  const until = q.until ? Date.parse(q.until) : now;
  const since = q.since ? Date.parse(q.since) : until - DAY_MS;
  if (since >= until) throw new ValidationError('since must be before until', [{ path: 'since', message: 'must be before until' }]);
  if (until - since > maxMs) {
    throw new ValidationError(`the range is longer than ${Math.round(maxMs / DAY_MS)} days`, [
      { path: 'since', message: `at most ${Math.round(maxMs / DAY_MS)} days before until` },
    ]);
  }
  return { since: new Date(since).toISOString(), until: new Date(until).toISOString() };
}

/** A comma-separated list in a query parameter, each item bounded. */
export const csv = <T extends z.ZodType<string, string>>(item: T, max: number) =>
  z
    .string()
    .max(max * 80)
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(item).max(max));
