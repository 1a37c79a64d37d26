import { ValidationError } from '../../core/errors.ts';
import { isUuid } from '../../core/ids.ts';
import { containsPattern, type Pool } from '../../infra/db.ts';
import type { LogSearchPage } from '../../schemas/dashboard.ts';
import { iso } from './rows.ts';

/**
 * A run's logs filtered for the dashboard: a minimum level, a text search and one task, oldest first
 * after a cursor (the last line's id), so "follow" asks only for lines newer than the ones it shows.
 */
export interface LogSearch {
  min_level?: number;
  q?: string;
  task_run_id?: string;
  cursor?: string;
  limit: number;
}

export async function searchLogs(pg: Pool, flowRunId: string, f: LogSearch): Promise<LogSearchPage> {
  if (f.cursor !== undefined && !/^\d{1,18}$/.test(f.cursor)) {
    throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'use next_cursor from the previous page (a line id)' }]);
  }
  if (f.task_run_id !== undefined && !isUuid(f.task_run_id)) {
    throw new ValidationError('invalid task_run_id', [{ path: 'task_run_id', message: 'must be a task run id (UUID)' }]);
  }
  if (!isUuid(flowRunId)) return { items: [], next_cursor: null, more: false };
  const res = await pg.query(
    `SELECT id, flow_run_id, task_run_id, level, message, timestamp, fields FROM logs
     WHERE flow_run_id = $1 AND ($2::bigint IS NULL OR id > $2) AND ($3::uuid IS NULL OR task_run_id = $3)
       AND ($4::int IS NULL OR level >= $4) AND ($5::text IS NULL OR message ILIKE $5)
     ORDER BY id LIMIT $6`,
    [flowRunId, f.cursor ?? null, f.task_run_id ?? null, f.min_level ?? null, f.q ? containsPattern(f.q) : null, f.limit + 1],
  );
  const items = res.rows.slice(0, f.limit).map((r) => ({
    id: String(r.id),
    flow_run_id: r.flow_run_id as string,
    task_run_id: (r.task_run_id as string | null) ?? null,
    level: Number(r.level),
    message: r.message as string,
    timestamp: iso(r.timestamp) as string,
    fields: (r.fields as Record<string, unknown>) ?? {},
  }));
  // The cursor is always the last line returned, so a follower polls with it even on the last page.
  const last = items[items.length - 1];
  return { items, next_cursor: last ? last.id : (f.cursor ?? null), more: res.rows.length > f.limit };
}
