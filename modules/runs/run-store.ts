import { ValidationError } from '../../core/errors.ts';
import { isUuid, newId } from '../../core/ids.ts';
import type { Logger } from '../../core/log.ts';
import type { Names } from '../../core/names.ts';
import { coalesced } from '../../infra/coalesce.ts';
import type { Pool } from '../../infra/db.ts';
import { whileUnavailable } from '../../infra/pg-errors.ts';
import type { FlowRun, LogLine, StateInput, TaskRun } from '../../schemas/flow-run.ts';
import type { TriggeredBy } from '../../schemas/jobs.ts';
import type { CreateFlowRunInput, CreateTaskRunInput, Orchestration, SetStateOptions, SetStateResult } from './contract.ts';
import { LogWriter } from './run-logs.ts';
import { FLOW_RUN_COLUMNS, FLOW_RUN_FROM, flowRunFromRow, publicFlowRun, publicTaskRun, TASK_RUN_COLUMNS, TASK_RUN_FROM, taskRunFromRow, type FlowRunRecord, type TaskRunRecord } from './rows.ts';
import { generateRunName } from './engine/run-names.ts';
import { StateWriter, type CreateFlowRunOptions } from './state-writer.ts';
import type { ResumedSuspensionSql } from './state-writer-sql.ts';
import { decideTransition } from './engine/states.ts';

/**
 * The Postgres implementation of the Orchestration contract: owns `flow_runs`, `task_runs`, their state
 * history, the outbox rows written with them, and `logs`. One instance per process (built by createRuns),
 * because its state writer batches every proposal made in the process.
 */
export class RunStore implements Orchestration {
  readonly writer: StateWriter;
  private readonly logs: LogWriter;

  constructor(
    private readonly pg: Pool,
    names: Names,
    log: Logger,
    resumedSuspensionSql: ResumedSuspensionSql,
  ) {
    const moduleLog = log.child({ module: 'runs' });
    this.writer = new StateWriter(pg, moduleLog, { notifyChannel: names.pgChannels.outbox, resumedSuspensionSql });
    this.logs = new LogWriter(pg, moduleLog);
  }

  async createFlowRun(input: CreateFlowRunInput, options: Pick<SetStateOptions, 'waitForDatabaseMs'> = {}): Promise<FlowRun> {
    return publicFlowRun((await this.createFlowRunDetailed(input, options)).run);
  }

  /** Like createFlowRun, and says whether the run is new or already existed under its idempotency key. */
  async createFlowRunDetailed(
    input: CreateFlowRunInput & { name?: string; deployment_name?: string; triggered_by?: TriggeredBy | null; priority?: number; concurrency_key?: string | null },
    options: CreateFlowRunOptions = {},
  ): Promise<{ run: FlowRunRecord; created: boolean }> {
    const now = new Date();
    const initial = decideTransition('flow', emptyTiming(), input.state ?? { type: 'PENDING' }, { now, force: true });
    if (!initial.accepted) throw new Error(initial.reason);
    const { state, ...timing } = initial.timing;
    const record: FlowRunRecord = {
      id: checkedId(input.id),
      name: input.name ?? generateRunName(),
      flow_name: input.flow_name,
      deployment_id: input.deployment_id ?? null,
      work_pool: input.work_pool ?? null,
      parent_task_run_id: input.parent_task_run_id ?? null,
      parent_flow_run_id: input.parent_flow_run_id ?? null,
      parameters: input.parameters ?? {},
      tags: input.tags ?? [],
      ...timing,
      state: initial.state,
      expected_start_time: initial.state.scheduled_time ?? now.toISOString(),
      created: now.toISOString(),
      updated: now.toISOString(),
      result: null,
      idempotency_key: input.idempotency_key ?? null,
      deployment_name: input.deployment_name ?? null,
      triggered_by: input.triggered_by ?? null,
      priority: input.priority ?? 0,
      concurrency_key: input.concurrency_key ?? null,
    };
    return this.writer.createFlowRun(record, options);
  }

  async getFlowRun(id: string): Promise<FlowRun | null> {
    const record = await this.getFlowRunRecord(id);
    return record ? publicFlowRun(record) : null;
  }

  /** Workers read each run they are handed: concurrent reads share one query. */
  async getFlowRunRecord(id: string): Promise<FlowRunRecord | null> {
    return isUuid(id) ? this.readFlowRun(id) : null;
  }

  private readonly readFlowRun = coalesced(async (ids: readonly string[]) => {
    const res = await this.pg.query(`SELECT ${FLOW_RUN_COLUMNS} FROM ${FLOW_RUN_FROM} WHERE f.id = ANY($1::uuid[])`, [ids]);
    return new Map(res.rows.map((r) => [r.id as string, flowRunFromRow(r)]));
  });

  async setFlowRunState(id: string, state: StateInput, options?: SetStateOptions): Promise<SetStateResult<FlowRun>> {
    const r = await this.writer.setFlowRunState(id, state, options);
    return { ...r, run: publicFlowRun(r.run) };
  }

  async createTaskRun(input: CreateTaskRunInput, options: Pick<SetStateOptions, 'waitForDatabaseMs'> = {}): Promise<TaskRun> {
    const now = new Date();
    const initial = decideTransition('task', emptyTiming(), { type: 'PENDING' }, { now, force: true });
    if (!initial.accepted) throw new Error(initial.reason);
    const record: TaskRunRecord = {
      id: checkedId(input.id),
      flow_run_id: input.flow_run_id,
      task_name: input.task_name,
      dynamic_key: input.dynamic_key,
      cache_key: input.cache_key ?? null,
      cache_expiration: input.cache_expiration ?? null,
      parameters: input.parameters ?? {},
      tags: input.tags ?? [],
      state: initial.state,
      run_count: 0,
      start_time: null,
      end_time: null,
      created: now.toISOString(),
      result: null,
      flow: null,
    };
    return publicTaskRun(await this.writer.createTaskRun(record, options));
  }

  async setTaskRunState(id: string, state: StateInput, options?: SetStateOptions): Promise<SetStateResult<TaskRun>> {
    const r = await this.writer.setTaskRunState(id, state, options);
    return { ...r, run: publicTaskRun(r.run) };
  }

  async getTaskRun(id: string): Promise<TaskRun | null> {
    if (!isUuid(id)) return null;
    const res = await this.pg.query(`SELECT ${TASK_RUN_COLUMNS} FROM ${TASK_RUN_FROM} WHERE t.id = $1`, [id]);
    return res.rows[0] ? publicTaskRun(taskRunFromRow(res.rows[0])) : null;
  }

  async findCachedTaskResult(cacheKey: string): Promise<{ task_run_id: string; result: unknown } | null> {
    const res = await this.pg.query<{ id: string; result: unknown }>(
      `SELECT id, result FROM task_runs
       WHERE cache_key = $1 AND state_type = 'COMPLETED' AND (cache_expiration IS NULL OR cache_expiration > now())
       ORDER BY end_time DESC LIMIT 1`,
      [cacheKey],
    );
    const row = res.rows[0];
    return row ? { task_run_id: row.id, result: row.result ?? null } : null;
  }

  appendLogs(lines: LogLine[]): void {
    this.logs.append(lines);
  }

  flushLogs(): Promise<void> {
    return this.logs.flush();
  }

  /**
   * This store for code executing runs: every write is held and every read retried up to `waitMs` while
   * PostgreSQL is unavailable (a database restart holds the runs' state changes instead of crashing the runs).
   */
  patient(waitMs: number): Orchestration {
    const wait = { waitForDatabaseMs: waitMs };
    return {
      createFlowRun: (input) => this.createFlowRun(input, wait),
      getFlowRun: (id) => whileUnavailable(() => this.getFlowRun(id), waitMs),
      setFlowRunState: (id, state, options) => this.setFlowRunState(id, state, { ...wait, ...options }),
      createTaskRun: (input) => this.createTaskRun(input, wait),
      setTaskRunState: (id, state, options) => this.setTaskRunState(id, state, { ...wait, ...options }),
      findCachedTaskResult: (key) => whileUnavailable(() => this.findCachedTaskResult(key), waitMs),
      appendLogs: (lines) => this.appendLogs(lines),
      flushLogs: () => this.flushLogs(),
    };
  }

  /** Commits everything proposed and buffered so far (call before closing the runtime). */
  async drain(): Promise<void> {
    await this.writer.drain();
    await this.logs.flush().catch(() => {});
  }
}

function checkedId(id: string | undefined): string {
  if (id === undefined) return newId();
  if (!isUuid(id)) throw new ValidationError(`run id must be a UUID, got "${id}"`, [{ path: 'id', message: 'must be a UUID' }]);
  return id;
}

function emptyTiming() {
  return { state: null, run_count: 0, start_time: null, end_time: null, total_run_time_seconds: 0 };
}
