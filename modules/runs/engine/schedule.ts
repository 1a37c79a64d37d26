import { Cron } from 'croner';
import type { Schedule } from '../../../schemas/deployment.ts';

/** Interval schedules without an anchor count from here, so every replica computes the same times. */
export const DEFAULT_ANCHOR = '2020-01-01T00:00:00.000Z';

export interface UpcomingOptions {
  /** The clock: only times at or after it are returned. */
  now: Date;
  /** Only times before now + horizonMs. */
  horizonMs: number;
  maxRuns: number;
}

/**
 * The start times a schedule asks for in [now, now + horizon), at most maxRuns, in order. Pure: the
 * clock is an argument, so daylight-saving behaviour is tested with fixed dates.
 *
 * Cron times are wall-clock times in the schedule's IANA time zone, computed by croner: on a
 * spring-forward day a time inside the skipped hour (02:30 in America/New_York) runs once, at the first
 * valid instant after the gap (03:00 local); on a fall-back day a time inside the repeated hour (01:30)
 * runs once, at its first occurrence. Sub-hourly crons keep their real-time spacing through the repeated
 * hour. Interval schedules are plain elapsed time from the anchor and ignore time zones.
 */
export function upcomingStartTimes(schedule: Schedule, options: UpcomingOptions): Date[] {
  const end = options.now.getTime() + options.horizonMs;
  const out: Date[] = [];
  if ('cron' in schedule) {
    const cron = new Cron(schedule.cron, { timezone: schedule.timezone, paused: true });
    // croner's nextRun(from) is strictly after `from`; step back 1 ms so a time equal to now counts.
    let next = cron.nextRun(new Date(options.now.getTime() - 1));
    while (next && next.getTime() < end && out.length < options.maxRuns) {
      out.push(next);
      next = cron.nextRun(next);
    }
    return out;
  }
  const step = schedule.interval_seconds * 1000;
  const anchor = Date.parse(schedule.anchor ?? DEFAULT_ANCHOR);
  const k = Math.ceil((options.now.getTime() - anchor) / step);
  for (let t = anchor + Math.max(k, 0) * step; t < end && out.length < options.maxRuns; t += step) out.push(new Date(t));
  return out;
}
