import type { CountByRequest, CountItem, EventFilterFields } from '../../schemas/event-filter.ts';
import type { StoredEvent } from '../../schemas/event.ts';
import type { Pool } from '../../infra/db.ts';
import { ValidationError } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';

/**
 * Reads the events the recorder stored (table `events`, migrations/0001_events.sql). The query API and
 * the automations backtest both read through here, so the filter means the same thing everywhere.
 *
 * Filter semantics: fields are ANDed, the values of one field ORed; `occurred_after` is inclusive and
 * `occurred_before` exclusive, so consecutive windows never count an event twice.
 */

export type EventOrder = 'desc' | 'asc';

export interface EventQuery extends EventFilterFields {
  limit: number;
  /** `next_cursor` of the previous page (opaque). */
  cursor?: string;
  /** Newest first (`desc`, the API's order) or oldest first (`asc`, for replays). */
  order?: EventOrder;
}

export interface EventPage {
  items: StoredEvent[];
  next_cursor: string | null;
}


/** Builds `$n` placeholders while collecting their values. */
class Args {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
}

/** WHERE conditions for the filter fields; the jsonb containments use the GIN indexes. */
function conditions(f: EventFilterFields, args: Args): string[] {
  const where: string[] = [];
  if (f.occurred_after) where.push(`occurred >= ${args.add(f.occurred_after)}::timestamptz`);
  if (f.occurred_before) where.push(`occurred < ${args.add(f.occurred_before)}::timestamptz`);
  if (f.event && !f.event.includes('*')) {
    const exact = f.event.filter((p) => !p.endsWith('.*'));
    const prefixes = f.event.filter((p) => p.endsWith('.*')).map((p) => likePrefix(p.slice(0, -1)));
    const any: string[] = [];
    if (exact.length) any.push(`event = ANY(${args.add(exact)}::text[])`);
    for (const p of prefixes) any.push(`event LIKE ${args.add(p)}`);
    where.push(`(${any.join(' OR ')})`);
  }
  if (f.resource_id) {
    const any = f.resource_id.map((r) =>
      r.endsWith('*') ? `resource_id LIKE ${args.add(likePrefix(r.slice(0, -1)))}` : `resource_id = ${args.add(r)}`,
    );
    where.push(`(${any.join(' OR ')})`);
  }
  if (f.related_id) {
    const any = f.related_id.map((id) => `related @> ${args.add(JSON.stringify([{ 'reflex.resource.id': id }]))}::jsonb`);
    where.push(`(${any.join(' OR ')})`);
  }
  for (const [label, value] of Object.entries(f.labels ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    const any = values.map((v) => `resource @> ${args.add(JSON.stringify({ [label]: v }))}::jsonb`);
    where.push(`(${any.join(' OR ')})`);
  }
  return where;
}

interface CursorPosition {
  /** Occurred with microseconds, as Postgres holds it (a JS Date would lose precision). */
  occurred: string;
  id: string;
  order: EventOrder;
}

function encodeCursor(c: CursorPosition): string {
  return Buffer.from(JSON.stringify([c.order, c.occurred, c.id])).toString('base64url');
}

function decodeCursor(cursor: string, order: EventOrder): CursorPosition {
  const bad = () => new ValidationError('invalid cursor', [{ path: 'cursor', message: 'pass next_cursor from the previous page unchanged' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw bad();
  const [o, occurred, id] = parsed as unknown[];
  if (o !== order || typeof occurred !== 'string' || Number.isNaN(Date.parse(occurred)) || typeof id !== 'string' || !isUuid(id)) throw bad();
  return { order, occurred, id };
}

interface EventRow {
  id: string;
  occurred: Date;
  occurred_key: string;
  received: Date;
  event: string;
  resource: Record<string, string>;
  related: Record<string, string>[];
  payload: Record<string, unknown>;
  follows: string | null;
}

const COLUMNS = `id, occurred, to_char(occurred AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_key,
  received, event, resource, related, payload, follows`;

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    occurred: row.occurred.toISOString(),
    event: row.event,
    resource: row.resource,
    related: row.related,
    payload: row.payload,
    follows: row.follows,
    received: row.received.toISOString(),
  };
}

/** One page of stored events matching the filter, with the cursor of the next page (null on the last). */
export async function queryEvents(pg: Pool, query: EventQuery): Promise<EventPage> {
  const order = query.order ?? 'desc';
  const args = new Args();
  const where = conditions(query, args);
  if (query.cursor) {
    const c = decodeCursor(query.cursor, order);
    where.push(`(occurred, id) ${order === 'desc' ? '<' : '>'} (${args.add(c.occurred)}::timestamptz, ${args.add(c.id)}::uuid)`);
  }
  const dir = order === 'desc' ? 'DESC' : 'ASC';
  const sql = `SELECT ${COLUMNS} FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY occurred ${dir}, id ${dir} LIMIT ${args.add(query.limit + 1)}`;
  const res = await pg.query<EventRow>(sql, args.values);
  const rows = res.rows.slice(0, query.limit);
  const last = rows[rows.length - 1];
  const next = res.rows.length > query.limit && last ? encodeCursor({ occurred: last.occurred_key, id: last.id, order }) : null;
  return { items: rows.map(toStoredEvent), next_cursor: next };
}

/**
 * Every stored event matching the filter, oldest first, read in pages of `batchSize` (what a backtest
 * replays). Events stored while the generator runs are included when they sort after the current page.
 */
export async function* streamStoredEvents(
  pg: Pool,
  filter: EventFilterFields,
  batchSize = 1000,
  order: EventOrder = 'asc',
): AsyncGenerator<StoredEvent> {
  let cursor: string | undefined;
  do {
    const page = await queryEvents(pg, { ...filter, limit: batchSize, cursor, order });
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/** The stored event with this id, or null (also for a string that is not a UUID). */
export async function getEvent(pg: Pool, id: string): Promise<StoredEvent | null> {
  if (!isUuid(id)) return null;
  const res = await pg.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE id = $1`, [id]);
  return res.rows[0] ? toStoredEvent(res.rows[0]) : null;
}

/** Buckets align to this Monday, so weeks start on Monday and days at midnight UTC. */
const BUCKET_ORIGIN = '2000-01-03T00:00:00Z';
const UNIT_MS = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 } as const;

/**
 * Counts matching events per event name or resource id (largest first), or per time bucket (oldest first).
 * With both `occurred_after` and `occurred_before`, time buckets are answered for the whole range,
 * empty ones with count 0, so a chart has no gaps.
 */
export async function countEventsBy(pg: Pool, req: CountByRequest): Promise<CountItem[]> {
  const args = new Args();
  const where = conditions(req, args);
  const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  switch (req.by) {
    case 'event':
    case 'resource': {
      const column = req.by === 'event' ? 'event' : 'resource_id';
      const res = await pg.query<{ value: string; count: number }>(
        `SELECT ${column} AS value, count(*)::int AS count FROM events ${whereSql}
         GROUP BY ${column} ORDER BY count DESC, value ASC LIMIT ${args.add(req.limit)}`,
        args.values,
      );
      return res.rows.map((r) => ({ value: r.value, count: r.count }));
    }
    case 'time':
      return countByTime(pg, req, args, whereSql);
  }
}

async function countByTime(pg: Pool, req: CountByRequest, args: Args, whereSql: string): Promise<CountItem[]> {
  const stepMs = UNIT_MS[req.interval] * req.interval_count;
  const step = `${args.add(`${stepMs / 1000} seconds`)}::interval`;
  const bucket = `date_bin(${step}, occurred, '${BUCKET_ORIGIN}'::timestamptz)`;
  const counted = `SELECT ${bucket} AS start, count(*)::int AS count FROM events ${whereSql} GROUP BY 1`;
  let sql: string;
  if (req.occurred_after && req.occurred_before) {
    const origin = Date.parse(BUCKET_ORIGIN);
    const first = origin + Math.floor((Date.parse(req.occurred_after) - origin) / stepMs) * stepMs;
    const buckets = Math.ceil((Date.parse(req.occurred_before) - first) / stepMs);
    if (buckets > req.limit) {
      throw new ValidationError(`the range holds ${buckets} buckets of ${req.interval_count} ${req.interval}(s); at most ${req.limit}`, [
        { path: 'interval', message: 'use a larger interval, a shorter range or a larger limit (at most 1000)' },
      ]);
    }
    // The series ends just before occurred_before: that instant itself is outside the (exclusive) range.
    sql = `SELECT s.start, coalesce(c.count, 0)::int AS count
      FROM generate_series(${args.add(new Date(first).toISOString())}::timestamptz,
                           ${args.add(req.occurred_before)}::timestamptz - interval '1 microsecond', ${step}) AS s(start)
      LEFT JOIN (${counted}) c ON c.start = s.start ORDER BY s.start`;
  } else {
    sql = `${counted} ORDER BY 1 LIMIT ${args.add(req.limit)}`;
  }
  const res = await pg.query<{ start: Date; count: number }>(sql, args.values);
  return res.rows.map((r) => {
    const start = r.start.toISOString();
    return { value: start, count: r.count, start_time: start, end_time: new Date(r.start.getTime() + stepMs).toISOString() };
  });
}
