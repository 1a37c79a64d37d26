import { ValidationError } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';
import type { Pool } from '../../infra/db.ts';
import type { AutomationSummary, FiringView } from '../../schemas/dashboard.ts';
import type { ActionOutcome } from './engine/firing.ts';

/**
 * Read side of automations for the dashboard: each automation with its last firing and its firings and
 * failed actions over a time range, one firing by id (what a run's cause links to), and an automation's
 * firings of a time range with the bucket each counted in.
 */

const isoOrNull = (v: unknown) => (v instanceof Date ? v.toISOString() : null);

/** Summaries without `failed_deliveries`: deliveries belong to the webhooks module (the API adds them). */
export async function automationSummaries(pg: Pool, since: string, until: string): Promise<Array<Omit<AutomationSummary, 'failed_deliveries'>>> {
  const res = await pg.query(
    `SELECT a.id, a.name, a.enabled, a.document->'trigger'->>'type' AS trigger_type,
            ARRAY(SELECT jsonb_array_elements(a.document->'actions')->>'type') AS action_types,
            last.fired_at AS last_fired_at, coalesce(r.firings, 0) AS firings, coalesce(r.failed, 0) AS failed_actions
     FROM automations a
     LEFT JOIN LATERAL (SELECT fired_at FROM automation_firings f WHERE f.automation_id = a.id ORDER BY fired_at DESC LIMIT 1) last ON true
     LEFT JOIN LATERAL (
       SELECT count(*) AS firings,
              sum((SELECT count(*) FROM jsonb_array_elements(f.actions) x WHERE x->>'status' = 'failed')) AS failed
       FROM automation_firings f WHERE f.automation_id = a.id AND f.fired_at >= $1 AND f.fired_at < $2
     ) r ON true
     ORDER BY a.name`,
    [since, until],
  );
  return res.rows.map((r) => ({
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    trigger_type: r.trigger_type ?? 'event',
    action_types: r.action_types ?? [],
    last_fired_at: isoOrNull(r.last_fired_at),
    firings: Number(r.firings),
    failed_actions: Number(r.failed_actions),
  }));
}

const FIRING_COLUMNS = `f.id, f.automation_id, f.state, f.fired_at, f.trigger_path, f.bucket_key, f.triggering_labels, f.triggering_event,
  f.count, f.window_start, f.window_end, f.actions, f.flow_control`;

function firingFromRow(r: Record<string, unknown>): FiringView {
  return {
    id: r.id as string,
    automation_id: r.automation_id as string,
    state: r.state as FiringView['state'],
    fired_at: (r.fired_at as Date).toISOString(),
    trigger_path: r.trigger_path as string,
    bucket_key: r.bucket_key as string,
    triggering_labels: (r.triggering_labels as Record<string, string>) ?? {},
    triggering_event: (r.triggering_event as FiringView['triggering_event']) ?? null,
    count: Number(r.count),
    window_start: isoOrNull(r.window_start),
    window_end: isoOrNull(r.window_end),
    actions: (r.actions as ActionOutcome[]) ?? [],
    flow_control: (r.flow_control as Record<string, unknown> | null) ?? null,
  };
}

/** One firing with the name of its automation (null once the automation is deleted: the history stays). */
export async function getFiring(pg: Pool, id: string): Promise<(FiringView & { automation_name: string | null }) | null> {
  if (!isUuid(id)) return null;
  const res = await pg.query(
    `SELECT ${FIRING_COLUMNS}, a.name AS automation_name FROM automation_firings f LEFT JOIN automations a ON a.id = f.automation_id WHERE f.id = $1`,
    [id],
  );
  const r = res.rows[0];
  return r ? { ...firingFromRow(r), automation_name: r.automation_name ?? null } : null;
}

/** The name of an automation, or null when there is none with this id. */
export async function automationName(pg: Pool, id: string): Promise<string | null> {
  if (!isUuid(id)) return null;
  const res = await pg.query<{ name: string }>('SELECT name FROM automations WHERE id = $1', [id]);
  return res.rows[0]?.name ?? null;
}

export interface FiringHistory {
  automation_id: string;
  since: string;
  until: string;
  limit: number;
  /** next_cursor of the previous page. */
  cursor?: string;
}

const invalidCursor = () => new ValidationError('invalid cursor', [{ path: 'cursor', message: 'use next_cursor from the previous page' }]);

function decodeFiringCursor(cursor: string): { fired_at: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalidCursor();
  const [fired_at, id] = parsed as unknown[];
  if (typeof fired_at !== 'string' || Number.isNaN(Date.parse(fired_at)) || typeof id !== 'string' || !isUuid(id)) throw invalidCursor();
  return { fired_at, id };
}

/** Firings of one automation in [since, until), newest first, keyset on (fired_at, id). */
export async function firingHistory(pg: Pool, f: FiringHistory): Promise<{ items: FiringView[]; next_cursor: string | null }> {
  const cursor = f.cursor === undefined ? undefined : decodeFiringCursor(f.cursor);
  if (!isUuid(f.automation_id)) return { items: [], next_cursor: null };
  const args: unknown[] = [f.automation_id, f.since, f.until];
  const where = ['f.automation_id = $1', 'f.fired_at >= $2', 'f.fired_at < $3'];
  if (cursor) where.push(`(f.fired_at, f.id) < ($${args.push(cursor.fired_at)}::timestamptz, $${args.push(cursor.id)}::uuid)`);
  const res = await pg.query(
    `SELECT ${FIRING_COLUMNS} FROM automation_firings f WHERE ${where.join(' AND ')} ORDER BY f.fired_at DESC, f.id DESC LIMIT $${args.push(f.limit + 1)}`,
    args,
  );
  const items = res.rows.slice(0, f.limit).map(firingFromRow);
  const last = items[items.length - 1];
  return { items, next_cursor: res.rows.length > f.limit && last ? Buffer.from(JSON.stringify([last.fired_at, last.id])).toString('base64url') : null };
}
