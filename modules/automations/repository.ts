import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts';
import { isUuid, newId } from '../../core/ids.ts';
import type { Pool, PoolClient } from '../../infra/db.ts';
import { isUniqueViolation } from '../../infra/pg-errors.ts';
import type { Automation, AutomationDocument } from '../../schemas/automation.ts';
import type { ActionOutcome, Firing, FiringWrite } from './engine/firing.ts';

export type { ActionOutcome, FiringWrite };

/** The `automations` and `automation_firings` tables (migrations/0002_automations.sql): every statement on them. */

type Db = Pool | PoolClient;

interface AutomationRow {
  id: string;
  name: string;
  enabled: boolean;
  document: AutomationDocument;
  created: Date;
  updated: Date;
}

function toAutomation(r: AutomationRow): Automation {
  return { ...r.document, id: r.id, name: r.name, enabled: r.enabled, created: r.created.toISOString(), updated: r.updated.toISOString() };
}

const COLUMNS = 'id, name, enabled, document, created, updated';

export async function listAutomations(db: Db, options: { enabledOnly?: boolean } = {}): Promise<Automation[]> {
  const res = await db.query<AutomationRow>(
    `SELECT ${COLUMNS} FROM automations ${options.enabledOnly ? 'WHERE enabled' : ''} ORDER BY name`,
  );
  return res.rows.map(toAutomation);
}

export async function getAutomation(db: Db, id: string): Promise<Automation> {
  if (!isUuid(id)) throw new NotFoundError('automation', id);
  const res = await db.query<AutomationRow>(`SELECT ${COLUMNS} FROM automations WHERE id = $1`, [id]);
  if (!res.rows[0]) throw new NotFoundError('automation', id);
  return toAutomation(res.rows[0]);
}

export async function findAutomationByName(db: Db, name: string): Promise<Automation | null> {
  const res = await db.query<AutomationRow>(`SELECT ${COLUMNS} FROM automations WHERE name = $1`, [name]);
  return res.rows[0] ? toAutomation(res.rows[0]) : null;
}

export async function insertAutomation(db: Db, doc: AutomationDocument): Promise<Automation> {
  try {
    const res = await db.query<AutomationRow>(
      `INSERT INTO automations (id, name, enabled, document) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
      [newId(), doc.name, doc.enabled, JSON.stringify(doc)],
    );
    return toAutomation(res.rows[0]);
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`an automation named "${doc.name}" already exists`);
    throw err;
  }
}

export async function replaceAutomation(db: Db, id: string, doc: AutomationDocument): Promise<Automation> {
  if (!isUuid(id)) throw new NotFoundError('automation', id);
  try {
    const res = await db.query<AutomationRow>(
      `UPDATE automations SET name = $2, enabled = $3, document = $4, updated = clock_timestamp() WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, doc.name, doc.enabled, JSON.stringify(doc)],
    );
    if (!res.rows[0]) throw new NotFoundError('automation', id);
    return toAutomation(res.rows[0]);
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`an automation named "${doc.name}" already exists`);
    throw err;
  }
}

export async function deleteAutomation(db: Db, id: string): Promise<void> {
  if (!isUuid(id)) throw new NotFoundError('automation', id);
  const res = await db.query('DELETE FROM automations WHERE id = $1', [id]);
  if (!res.rowCount) throw new NotFoundError('automation', id);
}

/** Cheap change detector for the cache: any insert, update or delete changes it. */
export async function automationsVersion(db: Db): Promise<string> {
  const res = await db.query<{ v: string }>(`SELECT count(*)::text || '/' || coalesce(max(updated)::text, '') AS v FROM automations`);
  return res.rows[0].v;
}

/**
 * Records firings and action outcomes, many in one statement. A firing is inserted once (the id, derived
 * from the firing key, is the primary key); on a row that exists each outcome replaces its action's entry
 * and the others are kept, so records and outcomes may arrive in any order, from any replica.
 */
export async function recordFirings(db: Db, writes: FiringWrite[]): Promise<void> {
  if (writes.length === 0) return;
  // One row per firing: a statement may not touch the same row twice.
  const rows = new Map<string, Firing & { actions: ActionOutcome[] }>();
  const updated = new Date().toISOString();
  for (const { firing, actionTypes, outcome } of writes) {
    let row = rows.get(firing.key);
    // The events of a window are kept by id only (flow_control.event_ids): the row stays small.
    if (!row) rows.set(firing.key, (row = { ...firing, events: undefined, actions: actionTypes.map((type, index): ActionOutcome => ({ index, type, status: 'pending' })) }));
    if (outcome) row.actions[outcome.index] = { ...outcome, updated };
  }
  // Prepared (parsed and planned once per connection): it reaches the table only through ON CONFLICT.
  await db.query({
    name: 'reflex_record_firings',
    text: `INSERT INTO automation_firings AS f (id, firing_key, automation_id, state, fired_at, trigger_path, bucket_key,
        triggering_labels, triggering_event, count, window_start, window_end, actions, flow_control)
     SELECT r.id, r.key, r.automation_id, r.state, r.fired_at, r.trigger_path, r.bucket_key,
        r.triggering_labels, r.triggering_event, r.count, r.window_start, r.window_end, r.actions, r.flow_control
     FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, key text, automation_id uuid, state text, fired_at timestamptz,
        trigger_path text, bucket_key text, triggering_labels jsonb, triggering_event jsonb, count int,
        window_start timestamptz, window_end timestamptz, actions jsonb, flow_control jsonb)
     ON CONFLICT (id) DO UPDATE SET actions = (
       SELECT jsonb_agg(CASE WHEN n.elem->>'status' = 'pending' THEN coalesce(o.elem, n.elem) ELSE n.elem END ORDER BY n.i)
       FROM jsonb_array_elements(EXCLUDED.actions) WITH ORDINALITY AS n(elem, i)
       LEFT JOIN jsonb_array_elements(f.actions) WITH ORDINALITY AS o(elem, i) ON o.i = n.i)`,
    values: [JSON.stringify([...rows.values()])],
  });
}

export interface FiringRecord {
  id: string;
  automation_id: string;
  state: 'triggered' | 'resolved' | 'rate-limited';
  fired_at: string;
  trigger_path: string;
  triggering_labels: Record<string, string>;
  triggering_event: unknown;
  count: number;
  window_start: string | null;
  window_end: string | null;
  actions: ActionOutcome[];
  flow_control: Record<string, unknown> | null;
}

/** Newest first; the cursor is `<fired_at ISO>|<id>` of the last item. */
export async function listFirings(db: Db, automationId: string, limit: number, cursor?: string): Promise<{ items: FiringRecord[]; next_cursor: string | null }> {
  const params: unknown[] = [automationId, limit + 1];
  let where = 'automation_id = $1';
  if (cursor) {
    const [at, id, extra] = cursor.split('|');
    if (extra !== undefined || !at || Number.isNaN(Date.parse(at)) || !id || !isUuid(id)) {
      throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'pass next_cursor from the previous page unchanged' }]);
    }
    params.push(at, id);
    where += ' AND (fired_at, id) < ($3::timestamptz, $4::uuid)';
  }
  const res = await db.query(
    `SELECT id, automation_id, state, fired_at, trigger_path, triggering_labels, triggering_event, count, window_start, window_end, actions, flow_control
     FROM automation_firings WHERE ${where} ORDER BY fired_at DESC, id DESC LIMIT $2`,
    params,
  );
  const rows = res.rows.map((r) => ({
    ...r,
    fired_at: (r.fired_at as Date).toISOString(),
    window_start: r.window_start ? (r.window_start as Date).toISOString() : null,
    window_end: r.window_end ? (r.window_end as Date).toISOString() : null,
  })) as FiringRecord[];
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rows.length > limit && last ? `${last.fired_at}|${last.id}` : null };
}

/** Sets an automation's enabled flag (pause/resume-automation actions); false when it does not exist. */
export async function setAutomationEnabled(db: Db, id: string, enabled: boolean): Promise<boolean> {
  if (!isUuid(id)) return false;
  const res = await db.query(
    `UPDATE automations SET enabled = $2, document = jsonb_set(document, '{enabled}', to_jsonb($2::boolean)), updated = clock_timestamp() WHERE id = $1::uuid`,
    [id, enabled],
  );
  return Boolean(res.rowCount);
}

/** The keys (`<firing>-<index>`) of the actions of these firings whose outcome is recorded. */
export async function recordedOutcomes(db: Db, firingIds: string[]): Promise<Set<string>> {
  const res = await db.query<{ key: string }>(
    `SELECT f.id || '-' || (a->>'index') AS key FROM automation_firings f, jsonb_array_elements(f.actions) AS a
     WHERE f.id = ANY($1::uuid[]) AND a->>'status' <> 'pending'`,
    [firingIds],
  );
  return new Set(res.rows.map((r) => r.key));
}
