import { isUuid } from '../../core/ids.ts';
import type { Pool } from '../../infra/db.ts';
import { ValidationError } from '../../core/errors.ts';
import type { FlowRun, LogLine, State, TaskRun } from '../../schemas/flow-run.ts';
import { FLOW_RUN_COLUMNS, FLOW_RUN_FROM, flowRunFromRow, iso, publicFlowRun, publicTaskRun, stateFromHistoryRow, TASK_RUN_COLUMNS, TASK_RUN_FROM, taskRunFromRow } from './rows.ts';


/** Read side of flow runs for the API: filtered newest-first pages, one run's details, its logs. */

export interface FlowRunFilter {
  /** State types or names (`COMPLETED`, `Late`), comma-separated. */
  state?: string;
  deployment_id?: string;
  flow_name?: string;
  tag?: string;
  /** Runs created at or after this time. */
  since?: string;
  limit: number;
  cursor?: string;
}

export async function listFlowRuns(pg: Pool, f: FlowRunFilter): Promise<{ items: FlowRun[]; next_cursor: string | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  if (f.state) {
    const states = f.state.split(',').map((s) => s.trim()).filter(Boolean);
    const p = arg(states);
    where.push(`(f.state_type = ANY(${p}::text[]) OR f.state_name = ANY(${p}::text[]))`);
  }
  if (f.deployment_id) {
    if (!isUuid(f.deployment_id)) return { items: [], next_cursor: null };
    where.push(`f.deployment_id = ${arg(f.deployment_id)}`);
  }
  if (f.flow_name) where.push(`f.flow_name = ${arg(f.flow_name)}`);
  if (f.tag) where.push(`f.tags @> ARRAY[${arg(f.tag)}]::text[]`);
  if (f.since) where.push(`f.created >= ${arg(f.since)}`);
  if (f.cursor) {
    if (!isUuid(f.cursor)) throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'use next_cursor from the previous page' }]);
    // Run ids are UUID v7: ordering by id is ordering by creation.
    where.push(`f.id < ${arg(f.cursor)}`);
  }
  const sql = `SELECT ${FLOW_RUN_COLUMNS} FROM ${FLOW_RUN_FROM} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY f.id DESC LIMIT ${arg(f.limit + 1)}`;
  const res = await pg.query(sql, args);
  const items = res.rows.slice(0, f.limit).map((r) => publicFlowRun(flowRunFromRow(r)));
  return { items, next_cursor: res.rows.length > f.limit ? items[items.length - 1].id : null };
}

export interface FlowRunDetail extends FlowRun {
  state_history: State[];
  task_runs: TaskRun[];
}

/**
 * One run with its state history and task runs, read in one snapshot (a read-only REPEATABLE READ
 * transaction): three reads on three pooled connections could see a run CANCELLED whose history still
 * ended at CANCELLING, the commit landing between them.
 */
export async function getFlowRunDetail(pg: Pool, id: string): Promise<FlowRunDetail | null> {
  if (!isUuid(id)) return null;
  const client = await pg.connect();
  let run, states, tasks;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    run = await client.query(`SELECT ${FLOW_RUN_COLUMNS} FROM ${FLOW_RUN_FROM} WHERE f.id = $1`, [id]);
    if (run.rows[0]) {
      states = await client.query('SELECT type, name, timestamp, message, scheduled_time, error FROM flow_run_states WHERE flow_run_id = $1 ORDER BY id', [id]);
      tasks = await client.query(`SELECT ${TASK_RUN_COLUMNS} FROM ${TASK_RUN_FROM} WHERE t.flow_run_id = $1 ORDER BY t.id`, [id]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    client.release(err as Error);
    throw err;
  }
  client.release();
  if (!run.rows[0] || !states || !tasks) return null;
  return {
    ...publicFlowRun(flowRunFromRow(run.rows[0])),
    state_history: states.rows.map(stateFromHistoryRow),
    task_runs: tasks.rows.map((r) => publicTaskRun(taskRunFromRow(r))),
  };
}

export async function getFlowRunLogs(
  pg: Pool,
  id: string,
  options: { limit: number; cursor?: string; task_run_id?: string },
): Promise<{ items: Array<LogLine & { id: string }>; next_cursor: string | null }> {
  if (!isUuid(id)) return { items: [], next_cursor: null };
  if (options.cursor && !/^\d+$/.test(options.cursor)) {
    throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'use next_cursor from the previous page' }]);
  }
  const res = await pg.query(
    `SELECT id, flow_run_id, task_run_id, level, message, timestamp, fields FROM logs
     WHERE flow_run_id = $1 AND ($2::bigint IS NULL OR id > $2) AND ($3::uuid IS NULL OR task_run_id = $3)
     ORDER BY id LIMIT $4`,
    [id, options.cursor ?? null, options.task_run_id && isUuid(options.task_run_id) ? options.task_run_id : null, options.limit + 1],
  );
  const items = res.rows.slice(0, options.limit).map((r) => ({
    id: String(r.id),
    flow_run_id: r.flow_run_id as string,
    task_run_id: (r.task_run_id as string | null) ?? null,
    level: Number(r.level),
    message: r.message as string,
    timestamp: iso(r.timestamp) as string,
    fields: (r.fields as Record<string, unknown>) ?? {},
  }));
  return { items, next_cursor: res.rows.length > options.limit ? items[items.length - 1].id : null };
}

/** RUNNING or CANCELLING runs whose state is older than `olderThanMs`: candidates of the crash sweep. */
export async function longActiveRuns(pg: Pool, olderThanMs: number, limit: number): Promise<Array<{ id: string; state_type: 'RUNNING' | 'CANCELLING' | 'PAUSED' }>> {
  // A run paused inside its flow (`pauseFlowRun`, state name Paused, entered from RUNNING) is held by the
  // process executing it, which keeps its heartbeat; a suspended run, or one paused through the API before
  // it ran, has no process and is left alone.
  const res = await pg.query<{ id: string; state_type: 'RUNNING' | 'CANCELLING' | 'PAUSED' }>(
    `SELECT f.id, f.state_type FROM flow_runs f
     WHERE (f.state_type IN ('RUNNING', 'CANCELLING')
            OR (f.state_type = 'PAUSED' AND f.state_name = 'Paused'
                AND (SELECT s.type FROM flow_run_states s WHERE s.flow_run_id = f.id ORDER BY s.id DESC OFFSET 1 LIMIT 1) = 'RUNNING'))
       AND f.state_timestamp < now() - make_interval(secs => $1)
     ORDER BY f.state_timestamp LIMIT $2`,
    [olderThanMs / 1000, limit],
  );
  return res.rows;
}

/**
 * CRASHED states of the last `withinMs` of runs of these flows, oldest first: the crashes whose onCrashed
 * hooks a worker that knows the flow may still have to run (a crashed run may be SCHEDULED again for its
 * retry by now, so the state history is read, not the run's current state).
 */
export async function recentCrashes(pg: Pool, flowNames: readonly string[], withinMs: number, limit: number): Promise<Array<{ state_id: string; run_id: string; state: State }>> {
  if (flowNames.length === 0) return [];
  const res = await pg.query<{ run_id: string; id: string }>(
    `SELECT s.flow_run_id AS run_id, s.id, s.type, s.name, s.timestamp, s.message, s.scheduled_time, s.error
     FROM flow_run_states s JOIN flow_runs f ON f.id = s.flow_run_id
     WHERE s.type = 'CRASHED' AND s.timestamp > now() - make_interval(secs => $2) AND f.flow_name = ANY($1)
     ORDER BY s.timestamp LIMIT $3`,
    [flowNames, withinMs / 1000, limit],
  );
  return res.rows.map((r) => ({ state_id: r.id, run_id: r.run_id, state: stateFromHistoryRow(r) }));
}

/** SCHEDULED runs not yet Late whose scheduled time is before `before`, oldest first. */
export async function overdueRuns(pg: Pool, before: Date, limit: number): Promise<Array<{ id: string; scheduled: Date }>> {
  const res = await pg.query<{ id: string; scheduled: Date }>(
    `SELECT id, state_scheduled_time AS scheduled FROM flow_runs
     WHERE state_type = 'SCHEDULED' AND state_name <> 'Late' AND state_scheduled_time < $1
     ORDER BY state_scheduled_time LIMIT $2`,
    [before, limit],
  );
  return res.rows;
}

/** Which of these idempotency keys runs already hold. */
export async function existingRunKeys(pg: Pool, keys: string[]): Promise<Set<string>> {
  const res = await pg.query<{ idempotency_key: string }>('SELECT idempotency_key FROM flow_runs WHERE idempotency_key = ANY($1::text[])', [keys]);
  return new Set(res.rows.map((r) => r.idempotency_key));
}
