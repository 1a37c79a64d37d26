import { ValidationError } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';
import { containsPattern, type Pool } from '../../infra/db.ts';
import type { RunHistory, RunRow } from '../../schemas/dashboard.ts';
import type { StateType } from '../../schemas/flow-run.ts';
import { iso } from './rows.ts';

/**
 * The dashboard's read side of flow runs: slim rows of a time range with every filter the run list
 * offers (keyset-paginated on (created, id); migration 0040 indexes each filter in that order), and
 * counts per state and time bucket for the activity chart.
 */

export interface RunSearch {
  /** State types or names: `FAILED`, `Late`. */
  state?: string[];
  flow_name?: string;
  deployment_id?: string;
  work_pool?: string;
  tag?: string;
  /** Case-insensitive substring of the run name. */
  q?: string;
  since: string;
  until: string;
  /** By creation time: newest first (default) or oldest first. */
  order?: 'desc' | 'asc';
  limit: number;
  cursor?: string;
}

const invalidCursor = () => new ValidationError('invalid cursor', [{ path: 'cursor', message: 'use next_cursor from the previous page' }]);

function encodeCursor(created: string, id: string): string {
  return Buffer.from(JSON.stringify([created, id])).toString('base64url');
}

function decodeCursor(cursor: string): { created: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalidCursor();
  const [created, id] = parsed as unknown[];
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created)) || typeof id !== 'string' || !isUuid(id)) throw invalidCursor();
  return { created, id };
}

export async function searchFlowRuns(pg: Pool, f: RunSearch): Promise<{ items: RunRow[]; next_cursor: string | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => `$${args.push(v)}`;
  where.push(`f.created >= ${arg(f.since)}`, `f.created < ${arg(f.until)}`);
  if (f.state?.length) {
    const p = arg(f.state);
    where.push(`(f.state_type = ANY(${p}::text[]) OR f.state_name = ANY(${p}::text[]))`);
  }
  if (f.flow_name) where.push(`f.flow_name = ${arg(f.flow_name)}`);
  if (f.deployment_id) {
    if (!isUuid(f.deployment_id)) return { items: [], next_cursor: null };
    where.push(`f.deployment_id = ${arg(f.deployment_id)}`);
  }
  if (f.work_pool) where.push(`f.work_pool = ${arg(f.work_pool)}`);
  if (f.tag) where.push(`f.tags @> ARRAY[${arg(f.tag)}]::text[]`);
  if (f.q) where.push(`f.name ILIKE ${arg(containsPattern(f.q))}`);
  // Either direction walks the same (created, id) indexes, forwards or backwards.
  const asc = f.order === 'asc';
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    where.push(`(f.created, f.id) ${asc ? '>' : '<'} (${arg(c.created)}::timestamptz, ${arg(c.id)}::uuid)`);
  }
  const res = await pg.query(
    `SELECT f.id, f.name, f.flow_name, f.deployment_id, d.name AS deployment_name, f.work_pool, f.parent_flow_run_id, f.tags,
            f.state_type, f.state_name, f.state_timestamp, f.state_message, f.run_count, f.created,
            f.expected_start_time, f.start_time, f.end_time, f.total_run_time_seconds
     FROM flow_runs f LEFT JOIN deployments d ON d.id = f.deployment_id
     WHERE ${where.join(' AND ')} ORDER BY f.created ${asc ? 'ASC' : 'DESC'}, f.id ${asc ? 'ASC' : 'DESC'} LIMIT ${arg(f.limit + 1)}`,
    args,
  );
  const items: RunRow[] = res.rows.slice(0, f.limit).map((r) => ({
    id: r.id,
    name: r.name,
    flow_name: r.flow_name,
    deployment_id: r.deployment_id ?? null,
    deployment_name: r.deployment_name ?? null,
    work_pool: r.work_pool ?? null,
    parent_flow_run_id: r.parent_flow_run_id ?? null,
    tags: r.tags ?? [],
    state: { type: r.state_type, name: r.state_name, timestamp: iso(r.state_timestamp) as string, message: r.state_message ?? null },
    run_count: Number(r.run_count),
    created: iso(r.created) as string,
    expected_start_time: iso(r.expected_start_time),
    start_time: iso(r.start_time),
    end_time: iso(r.end_time),
    total_run_time_seconds: Number(r.total_run_time_seconds),
  }));
  const last = items[items.length - 1];
  return { items, next_cursor: res.rows.length > f.limit && last ? encodeCursor(last.created, last.id) : null };
}

export interface RunHistoryFilter {
  since: string;
  until: string;
  buckets: number;
  flow_name?: string;
  deployment_id?: string;
  work_pool?: string;
}

/** Runs created in [since, until) counted per current state type, in `buckets` equal buckets. */
export async function flowRunHistory(pg: Pool, f: RunHistoryFilter): Promise<Omit<RunHistory, 'since' | 'until'>> {
  const since = Date.parse(f.since);
  const until = Date.parse(f.until);
  const width = Math.ceil((until - since) / f.buckets);
  const args: unknown[] = [f.since, f.until, `${width} milliseconds`];
  const where = ['created >= $1', 'created < $2'];
  if (f.flow_name) where.push(`flow_name = $${args.push(f.flow_name)}`);
  if (f.deployment_id) where.push(isUuid(f.deployment_id) ? `deployment_id = $${args.push(f.deployment_id)}` : 'false');
  if (f.work_pool) where.push(`work_pool = $${args.push(f.work_pool)}`);
  const res = await pg.query<{ b: Date; state_type: StateType; n: string; late: string }>(
    `SELECT date_bin($3::interval, created, $1::timestamptz) AS b, state_type, count(*) AS n,
            count(*) FILTER (WHERE state_name = 'Late') AS late
     FROM flow_runs WHERE ${where.join(' AND ')} GROUP BY 1, 2`,
    args,
  );
  const buckets: RunHistory['buckets'] = Array.from({ length: f.buckets }, (_, i) => ({
    start: new Date(since + i * width).toISOString(),
    end: new Date(Math.min(since + (i + 1) * width, until)).toISOString(),
    counts: {},
  }));
  const totals: RunHistory['totals'] = {};
  let late = 0;
  for (const r of res.rows) {
    const i = Math.min(f.buckets - 1, Math.max(0, Math.round((r.b.getTime() - since) / width)));
    const n = Number(r.n);
    buckets[i].counts[r.state_type] = (buckets[i].counts[r.state_type] ?? 0) + n;
    totals[r.state_type] = (totals[r.state_type] ?? 0) + n;
    late += Number(r.late);
  }
  return { buckets, totals, late };
}
