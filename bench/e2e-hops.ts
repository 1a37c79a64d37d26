import type { Pool } from '../infra/db.ts';
import type { SendLog } from './e2e-generator.ts';
import type { Arrivals } from './e2e-receiver.ts';
import { percentile } from './report.ts';

/**
 * Where a qualifying event's latency accrues, hop by hop, from the timestamps the engine records on its
 * way (same machine clock, millisecond resolution), between the generator's due time and the receiver's
 * arrival time:
 *   ingest      due → `events.occurred` (the API parsed the request: HTTP queueing, Fastify, validation)
 *   to rule     occurred → `automation_firings.fired_at` (JetStream publish and delivery, consumer batch)
 *   to queue    fired_at → the action's outcome time (trigger state committed in Redis, webhook rendered,
 *               job added to BullMQ)
 *   queue wait  → `webhook_deliveries.created` (a worker took the job, host-limit retries, log batch)
 *   log write   → `webhook_attempts.started` (the delivery row's statement returned)
 *   http        → the receiver got the request
 * And what each hop holds at the end of the measured window: the backlog that grows first is the hop that
 * fell behind first.
 */
export const HOPS = ['ingest', 'to rule', 'to queue', 'queue wait', 'log write', 'http'] as const;
export type Hop = (typeof HOPS)[number];

export interface HopTimes {
  n: number[];
  occurred: number[];
  fired: number[];
  enqueued: number[];
  picked: number[];
  sent: number[];
}

/** The recorded timestamps (epoch ms) of the deliveries of events numbered [from, to). */
export async function hopTimes(pg: Pool, from: number, to: number): Promise<HopTimes> {
  const res = await pg.query<{ n: number; occurred: number; fired: number; enqueued: number | null; picked: number | null; sent: number | null }>(
    `SELECT (e.payload->>'n')::int AS n,
            extract(epoch FROM e.occurred) * 1000 AS occurred,
            extract(epoch FROM f.fired_at) * 1000 AS fired,
            extract(epoch FROM (f.actions->0->>'updated')::timestamptz) * 1000 AS enqueued,
            extract(epoch FROM d.created) * 1000 AS picked,
            extract(epoch FROM a.started) * 1000 AS sent
     FROM events e
     JOIN automation_firings f ON f.triggering_event->>'id' = e.id::text
     LEFT JOIN webhook_deliveries d ON d.event_id = e.id::text
     LEFT JOIN webhook_attempts a ON a.delivery_id = d.id AND a.series = 1 AND a.attempt = 1
     WHERE e.event = 'order.created' AND (e.payload->>'n')::int >= $1 AND (e.payload->>'n')::int < $2`,
    [from, to],
  );
  const out: HopTimes = { n: [], occurred: [], fired: [], enqueued: [], picked: [], sent: [] };
  for (const r of res.rows) {
    if (r.enqueued === null || r.picked === null || r.sent === null) continue;
    out.n.push(r.n);
    out.occurred.push(Number(r.occurred));
    out.fired.push(Number(r.fired));
    out.enqueued.push(Number(r.enqueued));
    out.picked.push(Number(r.picked));
    out.sent.push(Number(r.sent));
  }
  return out;
}

/** p50 and p99 (ms) of each hop, over the events due inside the window [w0, w1). */
export function hopPercentiles(t: HopTimes, log: SendLog, arrivals: Arrivals, first: number, w0: number, w1: number): Record<Hop, { p50: number; p99: number }> {
  const arrived = new Map<number, number>();
  arrivals.n.forEach((n, i) => arrived.set(n, arrivals.at[i]));
  const spans: Record<Hop, number[]> = { ingest: [], 'to rule': [], 'to queue': [], 'queue wait': [], 'log write': [], http: [] };
  t.n.forEach((n, i) => {
    const due = log.scheduled[n - first];
    const at = arrived.get(n);
    if (due === undefined || at === undefined || due < w0 || due >= w1) return;
    const marks = [due, t.occurred[i], t.fired[i], t.enqueued[i], t.picked[i], t.sent[i], at];
    HOPS.forEach((hop, h) => spans[hop].push(marks[h + 1] - marks[h]));
  });
  const out = {} as Record<Hop, { p50: number; p99: number }>;
  for (const hop of HOPS) {
    const s = spans[hop].sort((a, b) => a - b);
    out[hop] = { p50: Math.round(percentile(s, 50) * 10) / 10, p99: Math.round(percentile(s, 99) * 10) / 10 };
  }
  return out;
}

/** What waits at each hop at one moment. */
export interface Backlog {
  /** Requests due and not answered yet (queued in the client, the socket or the API). */
  ingest: number;
  recorder: number;
  automations: number;
  webhook_waiting: number;
  webhook_delayed: number;
  webhook_active: number;
  /** Qualifying events due and not delivered yet: the sum over every hop. */
  outstanding: number;
}

/** The ingest and outstanding counts at `t`, from the generator's and the receiver's records. */
export function clientSide(log: SendLog, arrivals: Arrivals, first: number, qualifies: (n: number) => boolean, t: number): Pick<Backlog, 'ingest' | 'outstanding'> {
  const arrived = new Map<number, number>();
  arrivals.n.forEach((n, i) => arrived.set(n, arrivals.at[i]));
  let ingest = 0;
  let outstanding = 0;
  for (let i = 0; i < log.status.length; i++) {
    if (log.scheduled[i] >= t) continue;
    if (log.answered[i] > t) ingest += 1;
    const at = arrived.get(first + i);
    if (qualifies(first + i) && log.status[i] === 202 && (at === undefined || at > t)) outstanding += 1;
  }
  return { ingest, outstanding };
}
