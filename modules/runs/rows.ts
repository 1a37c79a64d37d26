import type { FlowRun, State, StateType, TaskRun } from '../../schemas/flow-run.ts';
import type { TriggeredBy } from '../../schemas/jobs.ts';

/**
 * Mapping between Postgres rows and the wire objects of schemas/flow-run.ts. The current state lives on
 * the run row (state_* columns); the history lives in flow_run_states / task_run_states.
 */

type Row = Record<string, unknown>;


export const iso = (v: unknown): string | null => (v == null ? null : v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

export function stateFromColumns(row: Row, prefix = 'state_'): State {
  return {
    type: row[`${prefix}type`] as StateType,
    name: row[`${prefix}name`] as string,
    timestamp: iso(row[`${prefix}timestamp`]) as string,
    message: (row[`${prefix}message`] as string | null) ?? null,
    scheduled_time: iso(row[`${prefix}scheduled_time`]),
    error: (row[`${prefix}error`] as State['error']) ?? null,
  };
}

export function stateFromHistoryRow(row: Row): State {
  return stateFromColumns(row, '');
}

/** A flow run plus what the state writer needs to build its events (not on the wire). */
export interface FlowRunRecord extends FlowRun {
  deployment_name: string | null;
  /** The automation, firing and event whose action created the run (migration 0040): written with the row, read by getRunOrigin only. */
  triggered_by?: TriggeredBy | null;
  /** Run control (migration 0550): its priority (higher first) and its rendered concurrency key (null: none). Not on the wire. */
  priority?: number;
  concurrency_key?: string | null;
}

export interface TaskRunRecord extends TaskRun {
  cache_expiration: string | null;
  /** The parent flow run, for the related resources of task-run events. */
  flow: { name: string; flow_name: string; deployment_id: string | null; deployment_name: string | null; work_pool: string | null } | null;
}

export const FLOW_RUN_COLUMNS = `f.id, f.name, f.flow_name, f.deployment_id, f.work_pool, f.parent_task_run_id, f.parent_flow_run_id,
  f.parameters, f.tags, f.state_type, f.state_name, f.state_timestamp, f.state_message, f.state_scheduled_time, f.state_error, f.run_count,
  f.expected_start_time, f.start_time, f.end_time, f.total_run_time_seconds, f.created, f.updated, f.result, f.idempotency_key,
  f.priority, f.concurrency_key, d.name AS deployment_name`;

/** FROM clause matching FLOW_RUN_COLUMNS. */
export const FLOW_RUN_FROM = 'flow_runs f LEFT JOIN deployments d ON d.id = f.deployment_id';

export function flowRunFromRow(row: Row): FlowRunRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    flow_name: row.flow_name as string,
    deployment_id: (row.deployment_id as string | null) ?? null,
    work_pool: (row.work_pool as string | null) ?? null,
    parent_task_run_id: (row.parent_task_run_id as string | null) ?? null,
    parent_flow_run_id: (row.parent_flow_run_id as string | null) ?? null,
    parameters: (row.parameters as Record<string, unknown>) ?? {},
    tags: (row.tags as string[]) ?? [],
    state: stateFromColumns(row),
    run_count: Number(row.run_count),
    expected_start_time: iso(row.expected_start_time),
    start_time: iso(row.start_time),
    end_time: iso(row.end_time),
    total_run_time_seconds: Number(row.total_run_time_seconds),
    created: iso(row.created) as string,
    updated: iso(row.updated) as string,
    result: row.result ?? null,
    idempotency_key: (row.idempotency_key as string | null) ?? null,
    deployment_name: (row.deployment_name as string | null) ?? null,
    priority: row.priority == null ? 0 : Number(row.priority),
    concurrency_key: (row.concurrency_key as string | null) ?? null,
  };
}

export const TASK_RUN_COLUMNS = `t.id, t.flow_run_id, t.task_name, t.dynamic_key, t.cache_key, t.cache_expiration, t.parameters, t.tags,
  t.state_type, t.state_name, t.state_timestamp, t.state_message, t.state_scheduled_time, t.state_error, t.run_count, t.start_time, t.end_time,
  t.created, t.result, f.name AS fr_name, f.flow_name AS fr_flow_name, f.deployment_id AS fr_deployment_id,
  d.name AS fr_deployment_name, f.work_pool AS fr_work_pool`;

export const TASK_RUN_FROM = 'task_runs t LEFT JOIN flow_runs f ON f.id = t.flow_run_id LEFT JOIN deployments d ON d.id = f.deployment_id';

export function taskRunFromRow(row: Row): TaskRunRecord {
  return {
    id: row.id as string,
    flow_run_id: (row.flow_run_id as string | null) ?? null,
    task_name: row.task_name as string,
    dynamic_key: row.dynamic_key as string,
    cache_key: (row.cache_key as string | null) ?? null,
    cache_expiration: iso(row.cache_expiration),
    parameters: (row.parameters as Record<string, unknown>) ?? {},
    tags: (row.tags as string[]) ?? [],
    state: stateFromColumns(row),
    run_count: Number(row.run_count),
    start_time: iso(row.start_time),
    end_time: iso(row.end_time),
    created: iso(row.created) as string,
    result: row.result ?? null,
    flow: row.fr_name
      ? {
          name: row.fr_name as string,
          flow_name: row.fr_flow_name as string,
          deployment_id: (row.fr_deployment_id as string | null) ?? null,
          deployment_name: (row.fr_deployment_name as string | null) ?? null,
          work_pool: (row.fr_work_pool as string | null) ?? null,
        }
      : null,
  };
}

/** The wire object without the internal fields. */
export function publicFlowRun(r: FlowRunRecord): FlowRun {
  const { deployment_name: _d, triggered_by: _t, priority: _p, concurrency_key: _k, ...run } = r;
  return run;
}

export function publicTaskRun(r: TaskRunRecord): TaskRun {
  const { cache_expiration: _c, flow: _f, ...run } = r;
  return run;
}
