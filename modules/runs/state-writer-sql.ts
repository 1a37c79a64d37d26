import pg from 'pg';
import { isUuid } from '../../core/ids.ts';
import { inline, Params, type PlaceValue, type Statement } from '../../infra/prepared-sql.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import type { State } from '../../schemas/flow-run.ts';
import { FLOW_RUN_COLUMNS, FLOW_RUN_FROM, type FlowRunRecord, type TaskRunRecord } from './rows.ts';

/**
 * Multi-row statements of the state writer: each takes a whole batch as one JSON document, so a batch of
 * hundreds of transitions costs a couple of round trips instead of hundreds of transactions.
 */

const FLOW_RUN_TYPES = `id uuid, name text, flow_name text, deployment_id uuid, work_pool text, parent_task_run_id uuid,
  parent_flow_run_id uuid, parameters jsonb, tags text[], state_type text, state_name text, state_timestamp timestamptz,
  state_message text, state_scheduled_time timestamptz, state_error jsonb, run_count int, expected_start_time timestamptz, start_time timestamptz,
  end_time timestamptz, total_run_time_seconds double precision, created timestamptz, updated timestamptz, result jsonb,
  idempotency_key text, triggered_by jsonb, priority int, concurrency_key text`;
const FLOW_RUN_NAMES = FLOW_RUN_TYPES.split(',').map((c) => c.trim().split(/\s+/)[0]);

const TASK_RUN_TYPES = `id uuid, flow_run_id uuid, task_name text, dynamic_key text, cache_key text, cache_expiration timestamptz,
  parameters jsonb, tags text[], state_type text, state_name text, state_timestamp timestamptz, state_message text,
  state_scheduled_time timestamptz, state_error jsonb, run_count int, start_time timestamptz, end_time timestamptz, created timestamptz,
  updated timestamptz, result jsonb`;
const TASK_RUN_NAMES = TASK_RUN_TYPES.split(',').map((c) => c.trim().split(/\s+/)[0]);

export interface StateRow {
  id: string;
  run_id: string;
  state: State;
}

const STATE_TYPES = (fk: string) =>
  `id uuid, ${fk} uuid, type text, name text, timestamp timestamptz, message text, scheduled_time timestamptz, error jsonb`;

function stateColumns(s: State) {
  return {
    state_type: s.type,
    state_name: s.name,
    state_timestamp: s.timestamp,
    state_message: s.message,
    state_scheduled_time: s.scheduled_time ?? null,
    state_error: s.error ?? null,
  };
}

function flowRunRow(r: FlowRunRecord) {
  const { state, deployment_name: _d, ...rest } = r;
  return { ...rest, ...stateColumns(state), result: r.result ?? null, triggered_by: r.triggered_by ?? null, priority: r.priority ?? 0, concurrency_key: r.concurrency_key ?? null };
}

function taskRunRow(r: TaskRunRecord) {
  const { state, flow: _f, ...rest } = r;
  return { ...rest, ...stateColumns(state), updated: new Date().toISOString(), result: r.result ?? null };
}

/** What a state change rewrites on a run row (the rest of the row never changes after creation). */
const STATE_UPDATE_TYPES = `id uuid, state_type text, state_name text, state_timestamp timestamptz, state_message text,
  state_scheduled_time timestamptz, state_error jsonb, run_count int, start_time timestamptz, end_time timestamptz,
  total_run_time_seconds double precision, updated timestamptz, result jsonb`;

function stateUpdateRow(r: FlowRunRecord | TaskRunRecord) {
  return {
    id: r.id,
    ...stateColumns(r.state),
    run_count: r.run_count,
    start_time: r.start_time,
    end_time: r.end_time,
    total_run_time_seconds: 'total_run_time_seconds' in r ? r.total_run_time_seconds : null,
    updated: 'updated' in r && r.updated ? r.updated : new Date().toISOString(),
    result: r.result ?? null,
  };
}

/** A new flow run, with the version of its deployment's row it was made from when that read was remembered. */
export type NewFlowRun = { run: FlowRunRecord; deploymentVersion?: string };

/**
 * Inserts new flow runs; a run whose idempotency key exists is skipped, and so is a run made from a
 * remembered deployment read whose deployment is no longer that row version, or is paused, or whose work
 * pool is. Answers the ids inserted.
 */
export function insertFlowRunsSql(runs: NewFlowRun[], place: PlaceValue = inline): string {
  const rows = runs.map((r) => ({ ...flowRunRow(r.run), expect_deployment_version: r.deploymentVersion ?? null }));
  return `INSERT INTO flow_runs (${FLOW_RUN_NAMES.join(', ')})
     SELECT ${FLOW_RUN_NAMES.join(', ')} FROM jsonb_to_recordset(${place('jsonb', jsonLiteral(rows))}) AS x(${FLOW_RUN_TYPES}, expect_deployment_version text)
     WHERE x.expect_deployment_version IS NULL OR EXISTS (
       SELECT 1 FROM deployments d LEFT JOIN work_pools p ON p.name = d.work_pool
       WHERE d.id = x.deployment_id AND d.xmin::text = x.expect_deployment_version AND NOT d.paused AND NOT coalesce(p.paused, false))
     ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING id`;
}

/**
 * A batch of new flow runs only, written whole in one statement: the runs (a run whose idempotency key
 * exists is skipped), and the initial state row and outbox row of each run that was inserted. Answers
 * the ids inserted; the notification is sent once per transaction however many rows ask for it. Its
 * values are placeholders: the text is the same for every batch, and is prepared once per connection.
 */
export function createFlowRunsSql(runs: NewFlowRun[], states: StateRow[], outbox: OutboxRow[], notifyChannel: string): Statement {
  const p = new Params();
  return p.statement(`WITH inserted AS (
       ${insertFlowRunsSql(runs, p.place)}
     ), ${stateInsertCte('flow', states, p.place, 'x.flow_run_id IN (SELECT id FROM inserted)')}, ${outboxInsertCte(outbox, p.place, "(x->>'run_id')::uuid IN (SELECT id FROM inserted)")}
     SELECT id, pg_notify(${pg.escapeLiteral(notifyChannel)}, '') FROM inserted`);
}

/**
 * The runs holding these idempotency keys, but for the runs `except` names: a batch's own new runs, which
 * it has whole already (every automation-started run has a key, and reading each back cost a full row).
 */
export function flowRunsByKeySql(keys: string[], except: string[] = []): string {
  return `SELECT ${FLOW_RUN_COLUMNS} FROM ${FLOW_RUN_FROM} WHERE f.idempotency_key = ANY(${textArray(keys)}) AND f.id <> ALL(${uuidArray(except)})`;
}

/**
 * Of these runs, the ones whose next attempt replays its finished tasks (they return what they returned):
 * an earlier attempt crashed (a crash is no verdict on the code), or the run was suspended and resumed.
 * Read with the RUNNING transition, in the round trip that locks the run, so an attempt's start costs no
 * query of its own. A run that never ran (run_count 0) has no finished task to replay.
 */
export function replayingRunsSql(ids: string[], resumedSuspensionSql: ResumedSuspensionSql): Statement {
  const p = new Params();
  return p.statement(`SELECT f.id FROM flow_runs f WHERE f.id = ANY(${p.place('uuid[]', uuidArray(ids))}) AND f.run_count > 0
     AND (EXISTS (SELECT 1 FROM flow_run_states s WHERE s.flow_run_id = f.id AND s.type = 'CRASHED') OR ${resumedSuspensionSql('f.id')})`);
}

/** The current rows of these flow runs, locked in id order (two writers cannot deadlock). */
export function lockFlowRunsSql(ids: string[]): Statement {
  const p = new Params();
  return p.statement(`SELECT ${FLOW_RUN_COLUMNS} FROM ${FLOW_RUN_FROM} WHERE f.id = ANY(${p.place('uuid[]', uuidArray(ids))}) ORDER BY f.id FOR UPDATE OF f`);
}

/**
 * SQL text (a boolean expression over the run id `runId` names) true when the run was suspended and
 * resumed. The waits module owns that table and writes the text (modules/waits resumedSuspensionSql); the
 * composition root hands it to this module, which never reaches into another.
 */
export type ResumedSuspensionSql = (runId: string) => string;

export interface OutboxRow {
  run_id: string;
  event: ReflexEvent;
}

export interface BatchWrites {
  /** Task runs created by the batch, in the state the batch leaves them in. */
  newTaskRuns: TaskRunRecord[];
  flowStates: StateRow[];
  taskStates: StateRow[];
  /** Runs whose state changed: their final state and timing of the batch. */
  flowRuns: FlowRunRecord[];
  taskRuns: TaskRunRecord[];
  /** Appended in array order: `seq` follows it, and `seq` is the publish order. */
  outbox: OutboxRow[];
  /** LISTEN/NOTIFY channel told at commit when the batch wrote outbox rows. */
  notifyChannel: string;
}

/**
 * A JSON document as a SQL literal, for statements sent without parameters. Dollar quoting leaves the text
 * as it is (nothing to escape), with a tag the text does not contain.
 */
function jsonLiteral(value: unknown): string {
  const text = JSON.stringify(value);
  let tag = 'j';
  for (let n = 0; text.includes(`$${tag}$`); n++) tag = `j${n}`;
  return `$${tag}$${text}$${tag}$::jsonb`;
}

/*
 * Why the statements join a batch's rows to a table through `= ANY(<array literal>)` and not only through
 * the batch itself: the planner estimates every set-returning function (jsonb_to_recordset,
 * jsonb_array_elements) at 100 rows, so on a table whose statistics are stale (every new install, and any
 * table between two autovacuum analyses while it grows) it chose a hash join over a sequential scan of
 * the whole table for a batch of ten rows: a statement cost grew with the table (13 ms at 30,000 rows
 * where the index takes 1 ms). An array literal has a known length, so the primary key's index is used.
 * In a prepared statement the array is a placeholder, and its generic plan cannot see the length: there
 * the index is kept by running with sequential scans ruled out (infra/prepared-sql.ts).
 */
/** Ids as a uuid[] literal; anything that is not a UUID cannot name a row and is left out. */
export function uuidArray(ids: string[]): string {
  return `'{${ids.filter(isUuid).join(',')}}'::uuid[]`;
}

function textArray(values: string[]): string {
  return `ARRAY[${values.map((v) => pg.escapeLiteral(v)).join(',')}]::text[]`;
}

const stateRows = (fk: string, rows: StateRow[]) =>
  rows.map((r) => ({ id: r.id, [fk]: r.run_id, type: r.state.type, name: r.state.name, timestamp: r.state.timestamp, message: r.state.message, scheduled_time: r.state.scheduled_time ?? null, error: r.state.error ?? null }));

/**
 * Every write of a batch as one statement (data-modifying CTEs): new task runs, state history rows, the
 * runs' new current state, the outbox rows and the notification to relays in other processes. Task runs
 * inserted here are not also updated (sibling CTEs do not see each other's rows), hence `newTaskRuns`
 * carries their final state. Foreign keys are checked at the end of the statement, after every insert.
 * Only the parts a batch has are in the text, and its values are placeholders: each combination of parts
 * is one text, prepared once per connection (infra/prepared-sql.ts), and a typical batch of a flow's
 * states has no task rows. Null when there is nothing to write.
 */
export function writeBatchSql(w: BatchWrites): Statement | null {
  const p = new Params();
  const place = p.place;
  const parts: string[] = [];
  if (w.newTaskRuns.length) {
    parts.push(`new_tasks AS (
       INSERT INTO task_runs (${TASK_RUN_NAMES.join(', ')})
       SELECT ${TASK_RUN_NAMES.join(', ')} FROM jsonb_to_recordset(${place('jsonb', jsonLiteral(w.newTaskRuns.map(taskRunRow)))}) AS x(${TASK_RUN_TYPES})
     )`);
  }
  if (w.flowStates.length) parts.push(stateInsertCte('flow', w.flowStates, place));
  if (w.taskStates.length) parts.push(stateInsertCte('task', w.taskStates, place));
  if (w.flowRuns.length) {
    parts.push(`flows AS (
       UPDATE flow_runs f SET state_type = x.state_type, state_name = x.state_name, state_timestamp = x.state_timestamp,
         state_message = x.state_message, state_scheduled_time = x.state_scheduled_time, state_error = x.state_error, run_count = x.run_count,
         start_time = x.start_time, end_time = x.end_time, total_run_time_seconds = x.total_run_time_seconds,
         updated = x.updated, result = x.result
       FROM jsonb_to_recordset(${place('jsonb', jsonLiteral(w.flowRuns.map(stateUpdateRow)))}) AS x(${STATE_UPDATE_TYPES})
       WHERE f.id = x.id AND f.id = ANY(${place('uuid[]', uuidArray(w.flowRuns.map((r) => r.id)))})
     )`);
  }
  if (w.taskRuns.length) {
    parts.push(`tasks AS (
       UPDATE task_runs t SET state_type = x.state_type, state_name = x.state_name, state_timestamp = x.state_timestamp,
         state_message = x.state_message, state_scheduled_time = x.state_scheduled_time, state_error = x.state_error, run_count = x.run_count,
         start_time = x.start_time, end_time = x.end_time, updated = x.updated, result = x.result
       FROM jsonb_to_recordset(${place('jsonb', jsonLiteral(w.taskRuns.map(stateUpdateRow)))}) AS x(${STATE_UPDATE_TYPES})
       WHERE t.id = x.id AND t.id = ANY(${place('uuid[]', uuidArray(w.taskRuns.map((r) => r.id)))})
     )`);
  }
  if (w.outbox.length) parts.push(outboxInsertCte(w.outbox, place));
  if (parts.length === 0) return null;
  return p.statement(`WITH ${parts.join(', ')}
     SELECT pg_notify(${pg.escapeLiteral(w.notifyChannel)}, '') WHERE ${w.outbox.length > 0 ? 'true' : 'false'}`);
}

/** State history rows as a data-modifying CTE named `flow_states` or `task_states`, with a filter over the rows (`x`) when given. */
function stateInsertCte(kind: 'flow' | 'task', rows: StateRow[], place: PlaceValue, where?: string): string {
  const fk = `${kind}_run_id`;
  return `${kind}_states AS (
       INSERT INTO ${kind}_run_states (id, ${fk}, type, name, timestamp, message, scheduled_time, error)
       SELECT id, ${fk}, type, name, timestamp, message, scheduled_time, error
       FROM jsonb_to_recordset(${place('jsonb', jsonLiteral(stateRows(fk, rows)))}) AS x(${STATE_TYPES(fk)})${where ? `
       WHERE ${where}` : ''}
     )`;
}

/**
 * Outbox rows as a data-modifying CTE named `events`, appended in array order (`seq` is the publish
 * order), with a filter over the rows (`x`) when given.
 */
function outboxInsertCte(rows: OutboxRow[], place: PlaceValue, where?: string): string {
  return `events AS (
       INSERT INTO outbox (id, run_id, event)
       SELECT (x->>'id')::uuid, (x->>'run_id')::uuid, x->'event'
       FROM jsonb_array_elements(${place('jsonb', jsonLiteral(rows.map((r) => ({ id: r.event.id, run_id: r.run_id, event: r.event }))))}) WITH ORDINALITY AS e(x, ord)${where ? `
       WHERE ${where}` : ''}
       ORDER BY ord
     )`;
}
