import type { Runtime } from '../infra/runtime.ts';
import { TERMINAL_STATES } from '../schemas/flow-run.ts';
import { AUTOMATIONS, EVENT_NAME, RUN_DEPLOYMENT, type AutomationKey } from './workload.ts';

/**
 * Reads what the engine did, from its own tables and stream, through a runtime of the suite's own
 * (opened after the load, when every dependency is back). Nothing here goes through the services.
 */

/** A SCHEDULED run this late should have started (REFLEX_LATE_AFTER_SECONDS's default). */
export const DUE_GRACE_SECONDS = 15;

const TERMINAL = [...TERMINAL_STATES];

export interface FiringsOf {
  count: number;
  /** Distinct triggering events: for a per-event automation, count minus this is its duplicates. */
  distinctEvents: number;
  /** Triggering event id -> when it fired (evaluation wall clock, epoch ms). */
  firedAt: Map<string, number>;
}

export interface RunRow {
  id: string;
  deployment: string;
  state: string;
  /** The triggering event's number for event-started runs (their `n` parameter). */
  n: number | null;
  endTime: number | null;
  expectedStart: number;
  created: number;
  runCount: number;
}

export interface EngineSnapshot {
  /** Stored event id -> when the recorder stored it (epoch ms). */
  stored: Map<string, number>;
  storedRows: number;
  /** Messages on the events subject of the stream (each stored once unless a duplicate slipped in). */
  streamMessages: number;
  firings: Record<AutomationKey, FiringsOf>;
  runs: RunRow[];
  /** State events still waiting in the outbox. */
  outboxRows: number;
  /** When the recorder stored the last flow-run state event (the outbox's work), epoch ms. */
  lastStateEventStored: number | null;
}

export async function snapshot(rt: Runtime): Promise<EngineSnapshot> {
  const [events, firings, runs, outbox, streamMessages, stateEvents] = await Promise.all([
    rt.pg.query<{ id: string; received: Date }>('SELECT id::text, received FROM events WHERE event = $1', [EVENT_NAME]),
    rt.pg.query<{ name: string; event_id: string | null; fired_at: Date }>(
      `SELECT a.name, f.triggering_event->>'id' AS event_id, f.fired_at FROM automation_firings f JOIN automations a ON a.id = f.automation_id`,
    ),
    rt.pg.query<{ id: string; deployment: string; state_type: string; n: string | null; end_time: Date | null; expected_start_time: Date; created: Date; run_count: number }>(
      `SELECT f.id::text, d.name AS deployment, f.state_type, f.parameters->>'n' AS n, f.end_time, f.expected_start_time, f.created, f.run_count
       FROM flow_runs f JOIN deployments d ON d.id = f.deployment_id`,
    ),
    rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox'),
    streamCount(rt),
    rt.pg.query<{ at: Date | null }>(`SELECT max(received) AS at FROM events WHERE event LIKE 'reflex.flow-run.%'`),
  ]);
  const byName = new Map<string, AutomationKey>(Object.entries(AUTOMATIONS).map(([k, v]) => [v, k as AutomationKey]));
  const empty = (): FiringsOf => ({ count: 0, distinctEvents: 0, firedAt: new Map() });
  const result: Record<AutomationKey, FiringsOf> = { webhook: empty(), run: empty(), threshold: empty() };
  for (const row of firings.rows) {
    const key = byName.get(row.name);
    if (!key) continue;
    const f = result[key];
    f.count += 1;
    if (row.event_id) {
      const t = row.fired_at.getTime();
      f.firedAt.set(row.event_id, Math.min(t, f.firedAt.get(row.event_id) ?? t));
    }
  }
  for (const f of Object.values(result)) f.distinctEvents = f.firedAt.size;
  return {
    stored: new Map(events.rows.map((r) => [r.id, r.received.getTime()])),
    storedRows: events.rows.length,
    streamMessages,
    firings: result,
    runs: runs.rows.map((r) => ({
      id: r.id,
      deployment: r.deployment,
      state: r.state_type,
      n: r.n === null ? null : Number(r.n),
      endTime: r.end_time?.getTime() ?? null,
      expectedStart: r.expected_start_time.getTime(),
      created: r.created.getTime(),
      runCount: r.run_count,
    })),
    outboxRows: outbox.rows[0].n,
    lastStateEventStored: stateEvents.rows[0].at?.getTime() ?? null,
  };
}

/** Whether a run should be final by `now`: every event-started run, and scheduled runs that are due. */
export function shouldBeFinal(run: RunRow, now: number): boolean {
  return run.deployment === RUN_DEPLOYMENT || run.expectedStart < now - DUE_GRACE_SECONDS * 1000;
}

export function isFinal(run: RunRow): boolean {
  return (TERMINAL as string[]).includes(run.state);
}

/** The cheap counts the drain loop polls, in one round trip per store. */
export interface Progress {
  stored: number;
  firings: Record<AutomationKey, number>;
  eventRuns: number;
  unfinishedRuns: number;
}

export async function progress(rt: Runtime): Promise<Progress> {
  const res = await rt.pg.query<{ stored: number; webhook: number; run: number; threshold: number; event_runs: number; unfinished: number }>(
    `SELECT (SELECT count(*)::int FROM events WHERE event = $1) AS stored,
            (SELECT count(*)::int FROM automation_firings f JOIN automations a ON a.id = f.automation_id WHERE a.name = $2) AS webhook,
            (SELECT count(*)::int FROM automation_firings f JOIN automations a ON a.id = f.automation_id WHERE a.name = $3) AS run,
            (SELECT count(*)::int FROM automation_firings f JOIN automations a ON a.id = f.automation_id WHERE a.name = $4) AS threshold,
            (SELECT count(*)::int FROM flow_runs f JOIN deployments d ON d.id = f.deployment_id WHERE d.name = $5) AS event_runs,
            (SELECT count(*)::int FROM flow_runs f JOIN deployments d ON d.id = f.deployment_id
              WHERE f.state_type <> ALL($6::text[])
                AND (d.name = $5 OR f.expected_start_time < now() - make_interval(secs => $7))) AS unfinished`,
    [EVENT_NAME, AUTOMATIONS.webhook, AUTOMATIONS.run, AUTOMATIONS.threshold, RUN_DEPLOYMENT, TERMINAL, DUE_GRACE_SECONDS],
  );
  const r = res.rows[0];
  return { stored: r.stored, firings: { webhook: r.webhook, run: r.run, threshold: r.threshold }, eventRuns: r.event_runs, unfinishedRuns: r.unfinished };
}

async function streamCount(rt: Runtime): Promise<number> {
  const subject = rt.names.eventSubject(EVENT_NAME);
  const info = await rt.bus.jsm.streams.info(rt.names.streams.events, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}
