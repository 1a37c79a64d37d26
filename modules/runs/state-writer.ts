import { uuidv7 } from 'uuidv7';
import { isUuid } from '../../core/ids.ts';
import type { QueryResult } from 'pg';
import type { Pool, PoolClient } from '../../infra/db.ts';
import { DependencyUnavailableError, NotFoundError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { pgErrorKind } from '../../infra/pg-errors.ts';
import type { State, StateInput } from '../../schemas/flow-run.ts';
import type { SetStateOptions, SetStateResult } from './contract.ts';
import { FLOW_RUN_COLUMNS, FLOW_RUN_FROM, flowRunFromRow, TASK_RUN_COLUMNS, TASK_RUN_FROM, taskRunFromRow, type FlowRunRecord, type TaskRunRecord } from './rows.ts';
import { flowRunsByKeySql, insertFlowRunsSql, uuidArray, writeBatchSql, type OutboxRow, type StateRow } from './state-writer-sql.ts';
import { flowRunStateEvent, taskRunStateEvent } from './engine/state-events.ts';
import { decideTransition } from './engine/states.ts';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** `waitUntil`: while PostgreSQL is unavailable the proposal is held and retried until then (epoch ms). */
type Op = { waitUntil: number } & (
  | { kind: 'create-flow'; run: FlowRunRecord; w: Waiter<{ run: FlowRunRecord; created: boolean }> }
  | { kind: 'create-task'; run: TaskRunRecord; w: Waiter<TaskRunRecord> }
  | { kind: 'flow-state'; id: string; proposed: StateInput; options: SetStateOptions; w: Waiter<SetStateResult<FlowRunRecord>> }
  | { kind: 'task-state'; id: string; proposed: StateInput; options: SetStateOptions; w: Waiter<SetStateResult<TaskRunRecord>> }
);

export interface StateWriterOptions {
  maxBatch?: number;
  /** LISTEN/NOTIFY channel told after each commit that wrote outbox rows. */
  notifyChannel: string;
}

/** Retries of a batch held during an outage start this far apart and double up to the maximum. */
const OUTAGE_RETRY_MS = { first: 100, max: 2000 };

/**
 * Groups proposed transitions from many runs into short batches: one transaction per batch, multi-row
 * statements, each run's rows locked and its transitions validated in the order they were proposed.
 * Batches commit one after another, so a run's transitions are stored in order; every caller's promise
 * settles only after the batch holding its transition is committed (with the outbox rows).
 */
export class StateWriter {
  private queue: Op[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;
  private readonly maxBatch: number;
  private readonly commitListeners = new Set<() => void>();
  /** The connection batches are written on, held while there is work. */
  private client: PoolClient | undefined;
  /** Since when PostgreSQL has been unavailable (null: it is not), and the retry delay reached. */
  private outage: { since: number; delayMs: number; retryAt: number } | null = null;

  constructor(
    private readonly pg: Pool,
    private readonly log: Logger,
    private readonly options: StateWriterOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 500;
  }

  /** Called after every commit that wrote outbox rows (the relay in this process wakes up at once). */
  onCommit(listener: () => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /**
   * Each write takes `waitForDatabaseMs`: how long it may be held while PostgreSQL is unavailable before
   * it fails with a DependencyUnavailableError (default 0: at once, as an API request wants). A worker
   * holding a running flow waits instead, so a database restart does not crash the runs it is executing.
   */
  createFlowRun(run: FlowRunRecord, options: Pick<SetStateOptions, 'waitForDatabaseMs'> = {}): Promise<{ run: FlowRunRecord; created: boolean }> {
    return new Promise((resolve, reject) => this.push({ kind: 'create-flow', run, w: { resolve, reject }, waitUntil: waitUntil(options) }));
  }

  createTaskRun(run: TaskRunRecord, options: Pick<SetStateOptions, 'waitForDatabaseMs'> = {}): Promise<TaskRunRecord> {
    return new Promise((resolve, reject) => this.push({ kind: 'create-task', run, w: { resolve, reject }, waitUntil: waitUntil(options) }));
  }

  setFlowRunState(id: string, proposed: StateInput, options: SetStateOptions = {}): Promise<SetStateResult<FlowRunRecord>> {
    return new Promise((resolve, reject) => this.push({ kind: 'flow-state', id, proposed, options, w: { resolve, reject }, waitUntil: waitUntil(options) }));
  }

  setTaskRunState(id: string, proposed: StateInput, options: SetStateOptions = {}): Promise<SetStateResult<TaskRunRecord>> {
    return new Promise((resolve, reject) => this.push({ kind: 'task-state', id, proposed, options, w: { resolve, reject }, waitUntil: waitUntil(options) }));
  }

  /** Resolves once everything proposed so far is committed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      if (!this.flushing) this.kick();
      await this.flushing;
    }
  }

  private push(op: Op): void {
    if ((op.kind === 'flow-state' || op.kind === 'task-state') && !isUuid(op.id)) {
      op.w.reject(new NotFoundError(op.kind === 'flow-state' ? 'flow run' : 'task run', op.id));
      return;
    }
    this.queue.push(op);
    if (this.flushing) return; // the running flush picks it up when it ends
    if (this.queue.length >= this.maxBatch) this.kick();
    else if (!this.scheduled) {
      // Waits for the proposals made in the same turn of the event loop (a flow's PENDING and RUNNING, say);
      // under load, batches form anyway while the previous one is being written.
      this.scheduled = true;
      setImmediate(() => this.kick());
    }
  }

  private kick(): void {
    this.scheduled = false;
    if (this.flushing || this.queue.length === 0) return;
    // During an outage only the retry timer sends (a new proposal must not turn the back-off into a spin);
    // proposals that can no longer wait fail at once.
    if (this.outage && Date.now() < this.outage.retryAt) {
      this.failExpired();
      return;
    }
    const batch = this.queue.splice(0, this.maxBatch);
    this.flushing = this.flushBatch(batch).finally(() => {
      this.flushing = undefined;
      // Proposals that arrived during the flush already waited; send them now.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async flushBatch(batch: Op[]): Promise<void> {
    let settle: Array<() => void>;
    try {
      settle = await this.commit(batch);
      if (this.outage) {
        this.log.info({ down_ms: Date.now() - this.outage.since }, 'PostgreSQL is back; held state changes written');
        this.outage = null;
      }
    } catch (err) {
      if (pgErrorKind(err) === 'unavailable') {
        this.hold(batch, err);
        return;
      }
      if (batch.length === 1) {
        batch[0].w.reject(err);
        return;
      }
      // Isolate what failed: each proposal alone, still in order, so one bad row fails only its caller.
      this.log.warn({ err, size: batch.length }, 'state batch failed; retrying its proposals one by one');
      for (const op of batch) await this.flushBatch([op]);
      return;
    } finally {
      // Kept while proposals keep coming (no pool wait per batch), handed back when the writer goes idle.
      if (this.queue.length === 0) this.releaseClient();
    }
    for (const listener of this.commitListeners) listener();
    for (const s of settle) s();
  }

  /**
   * PostgreSQL is unavailable: proposals that may still wait go back to the head of the queue, in order,
   * and the writer tries again after a growing delay; the others fail now, naming the dependency. The
   * transaction rolled back (or never reached the server), so nothing of the batch is half-written.
   */
  private hold(batch: Op[], err: unknown): void {
    const now = Date.now();
    this.releaseClient(err instanceof Error ? err : new Error(String(err)));
    const keep = batch.filter((op) => op.waitUntil > now);
    for (const op of batch) {
      if (op.waitUntil <= now) op.w.reject(new DependencyUnavailableError('PostgreSQL', 'the state store', 'The change was not written; try again.', err));
    }
    if (!this.outage) {
      this.outage = { since: now, delayMs: OUTAGE_RETRY_MS.first, retryAt: 0 };
      this.log.warn({ err: (err as Error)?.message, held: keep.length }, 'PostgreSQL is unavailable; holding state changes until it is back');
    } else {
      this.outage.delayMs = Math.min(this.outage.delayMs * 2, OUTAGE_RETRY_MS.max);
    }
    this.outage.retryAt = now + this.outage.delayMs;
    this.queue.unshift(...keep);
    const retry = setTimeout(() => this.kick(), this.outage.delayMs);
    retry.unref();
  }

  /** During an outage: fails the queued proposals whose patience ran out, keeps the others in order. */
  private failExpired(): void {
    const now = Date.now();
    const expired = this.queue.filter((op) => op.waitUntil <= now);
    if (expired.length === 0) return;
    this.queue = this.queue.filter((op) => op.waitUntil > now);
    for (const op of expired) op.w.reject(new DependencyUnavailableError('PostgreSQL', 'the state store', 'The change was not written; try again.'));
  }

  private releaseClient(err?: Error): void {
    const client = this.client;
    this.client = undefined;
    client?.release(err);
  }

  /**
   * One transaction in two round trips: BEGIN with the inserts of new flow runs and every read in one
   * multi-statement query, then every other write with COMMIT in another. Round trips, not statements, are
   * what a busy process pays for; the ids and JSON documents in these statements are inlined as escaped
   * literals, because a multi-statement query cannot take parameters.
   */
  private async commit(batch: Op[]): Promise<Array<() => void>> {
    const client = (this.client ??= await this.pg.connect());
    try {
      return await this.apply(client, batch);
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => this.releaseClient(e));
      throw err;
    }
  }

  /** Applies a batch inside one transaction (committed here); returns the callbacks that settle its callers. */
  private async apply(client: PoolClient, batch: Op[]): Promise<Array<() => void>> {
    const settle: Array<() => void> = [];
    const outbox: OutboxRow[] = [];
    const flowStates: StateRow[] = [];
    const taskStates: StateRow[] = [];
    const flowCreates = batch.filter((o): o is Extract<Op, { kind: 'create-flow' }> => o.kind === 'create-flow');
    const taskCreates = batch.filter((o): o is Extract<Op, { kind: 'create-task' }> => o.kind === 'create-task');
    const createdFlowIds = new Set(flowCreates.map((o) => o.run.id));
    const createdTaskIds = new Set(taskCreates.map((o) => o.run.id));

    // 1. BEGIN, new flow runs, and the reads: the current rows of runs with transitions (locked in id
    //    order, so two writers cannot deadlock) and names for new runs' events. Runs created in this batch
    //    are not read: their row is the one this transaction writes.
    const flowIds = [...new Set(batch.flatMap((o) => (o.kind === 'flow-state' && !createdFlowIds.has(o.id) ? [o.id] : [])))];
    const taskIds = [...new Set(batch.flatMap((o) => (o.kind === 'task-state' && !createdTaskIds.has(o.id) ? [o.id] : [])))];
    const deploymentIds = [...new Set(flowCreates.flatMap((o) => (o.run.deployment_id && !o.run.deployment_name ? [o.run.deployment_id] : [])))];
    const parentIds = [...new Set(taskCreates.flatMap((o) => (o.run.flow_run_id && !o.run.flow ? [o.run.flow_run_id] : [])))];
    const keys = [...new Set(flowCreates.flatMap((o) => (o.run.idempotency_key ? [o.run.idempotency_key] : [])))];
    const statements = {
      // New flow runs first, so the read by key below also sees the rows this transaction inserted.
      inserted: flowCreates.length ? insertFlowRunsSql(flowCreates.map((o) => o.run)) : null,
      byKey: keys.length ? flowRunsByKeySql(keys) : null,
      flows: flowIds.length ? `SELECT ${FLOW_RUN_COLUMNS} FROM ${FLOW_RUN_FROM} WHERE f.id = ANY(${uuidArray(flowIds)}) ORDER BY f.id FOR UPDATE OF f` : null,
      tasks: taskIds.length ? `SELECT ${TASK_RUN_COLUMNS} FROM ${TASK_RUN_FROM} WHERE t.id = ANY(${uuidArray(taskIds)}) ORDER BY t.id FOR UPDATE OF t` : null,
      deployments: deploymentIds.length ? `SELECT id, name FROM deployments WHERE id = ANY(${uuidArray(deploymentIds)})` : null,
      parents: parentIds.length
        ? `SELECT f.id, f.name, f.flow_name, f.deployment_id, d.name AS deployment_name, f.work_pool FROM ${FLOW_RUN_FROM} WHERE f.id = ANY(${uuidArray(parentIds)})`
        : null,
    };
    const results = await multiQuery(client, ['BEGIN', ...Object.values(statements)]);
    let next = 1; // results[0] is BEGIN's
    const rowsOf = Object.fromEntries(Object.entries(statements).map(([name, sql]) => [name, sql ? results[next++] : []])) as Record<keyof typeof statements, Record<string, unknown>[]>;
    const flows = new Map(rowsOf.flows.map((r) => [r.id as string, flowRunFromRow(r)]));
    const tasks = new Map(rowsOf.tasks.map((r) => [r.id as string, taskRunFromRow(r)]));
    const deploymentNames = new Map(rowsOf.deployments.map((r) => [r.id as string, r.name as string]));
    for (const { run } of flowCreates) if (run.deployment_id) run.deployment_name ??= deploymentNames.get(run.deployment_id) ?? null;
    const parents = new Map(rowsOf.parents.map((r) => [r.id as string, r]));
    for (const { run } of taskCreates) {
      const f = run.flow_run_id ? parents.get(run.flow_run_id) : undefined;
      if (f) {
        run.flow = {
          name: f.name as string,
          flow_name: f.flow_name as string,
          deployment_id: (f.deployment_id as string | null) ?? null,
          deployment_name: (f.deployment_name as string | null) ?? null,
          work_pool: (f.work_pool as string | null) ?? null,
        };
      }
    }

    // 2. New flow runs; one whose idempotency key existed was not inserted and its caller gets the stored
    //    run. A new run's initial state is history and an event like any other.
    const inserted = new Set(rowsOf.inserted.map((r) => r.id as string));
    const byKey = new Map(rowsOf.byKey.map((r) => [r.idempotency_key as string, flowRunFromRow(r)]));
    for (const op of flowCreates) {
      if (inserted.has(op.run.id)) {
        const stateId = uuidv7();
        flows.set(op.run.id, op.run);
        flowStates.push({ id: stateId, run_id: op.run.id, state: op.run.state });
        outbox.push({ run_id: op.run.id, event: flowRunStateEvent(stateId, op.run, null) });
        settle.push(() => op.w.resolve({ run: op.run, created: true }));
      } else {
        const found = byKey.get(op.run.idempotency_key as string);
        if (found) settle.push(() => op.w.resolve({ run: found, created: false }));
        else settle.push(() => op.w.reject(new Error(`flow run with idempotency key "${op.run.idempotency_key}" vanished`)));
      }
    }
    // New task runs are inserted by the write below, in the state this batch leaves them in.
    for (const op of taskCreates) {
      const stateId = uuidv7();
      tasks.set(op.run.id, op.run);
      taskStates.push({ id: stateId, run_id: op.run.id, state: op.run.state });
      outbox.push({ run_id: op.run.id, event: taskRunStateEvent(stateId, op.run, null) });
      settle.push(() => op.w.resolve(op.run));
    }

    // 3. Transitions, validated against the current row, in proposal order.
    const changedFlows = new Set<string>();
    const changedTasks = new Set<string>();
    for (const op of batch) {
      if (op.kind === 'flow-state') {
        const outcome = transition('flow', flows, op.id, op.proposed, op.options);
        if (!outcome) settle.push(() => op.w.reject(new NotFoundError('flow run', op.id)));
        else if (!outcome.accepted) settle.push(() => op.w.resolve(outcome.result));
        else {
          changedFlows.add(op.id);
          flowStates.push({ id: outcome.stateId, run_id: op.id, state: outcome.result.state });
          outbox.push({ run_id: op.id, event: flowRunStateEvent(outcome.stateId, outcome.result.run, outcome.previous) });
          settle.push(() => op.w.resolve(outcome.result));
        }
      } else if (op.kind === 'task-state') {
        const outcome = transition('task', tasks, op.id, op.proposed, op.options);
        if (!outcome) settle.push(() => op.w.reject(new NotFoundError('task run', op.id)));
        else if (!outcome.accepted) settle.push(() => op.w.resolve(outcome.result));
        else {
          changedTasks.add(op.id);
          taskStates.push({ id: outcome.stateId, run_id: op.id, state: outcome.result.state });
          outbox.push({ run_id: op.id, event: taskRunStateEvent(outcome.stateId, outcome.result.run, outcome.previous) });
          settle.push(() => op.w.resolve(outcome.result));
        }
      }
    }

    // 4. Every write in one statement and COMMIT in the same query; if the write fails, Postgres skips the
    //    COMMIT and commit() rolls back.
    const write = writeBatchSql({
      newTaskRuns: taskCreates.map((o) => tasks.get(o.run.id) as TaskRunRecord),
      flowStates,
      taskStates,
      flowRuns: [...changedFlows].map((id) => flows.get(id) as FlowRunRecord),
      taskRuns: [...changedTasks].filter((id) => !createdTaskIds.has(id)).map((id) => tasks.get(id) as TaskRunRecord),
      outbox,
      notifyChannel: this.options.notifyChannel,
    });
    await multiQuery(client, [write, 'COMMIT']);
    return settle;
  }
}

/** The deadline of a proposal's patience with an unavailable database. */
function waitUntil(options: Pick<SetStateOptions, 'waitForDatabaseMs'>): number {
  return Date.now() + Math.max(0, options.waitForDatabaseMs ?? 0);
}

/** Runs statements as one simple query (one round trip); answers each statement's rows. */
async function multiQuery(client: PoolClient, statements: Array<string | null>): Promise<Array<Record<string, unknown>[]>> {
  const sql = statements.filter((s): s is string => s !== null);
  const res = (await client.query(sql.join(';\n'))) as unknown as QueryResult | QueryResult[];
  return (Array.isArray(res) ? res : [res]).map((r) => r.rows as Record<string, unknown>[]);
}

type Outcome<T> =
  | { accepted: true; stateId: string; previous: State | null; result: SetStateResult<T> }
  | { accepted: false; result: SetStateResult<T> };

/** Applies one proposal to the in-memory copy of the run (so later proposals of the batch see it). */
function transition<T extends FlowRunRecord | TaskRunRecord>(
  kind: 'flow' | 'task',
  runs: Map<string, T>,
  id: string,
  proposed: StateInput,
  options: SetStateOptions,
): Outcome<T> | null {
  const run = runs.get(id);
  if (!run) return null;
  const now = new Date();
  const timing = { state: run.state, run_count: run.run_count, start_time: run.start_time, end_time: run.end_time, total_run_time_seconds: 'total_run_time_seconds' in run ? run.total_run_time_seconds : 0 };
  const decision = decideTransition(kind, timing, proposed, { now, force: options.force });
  if (!decision.accepted) return { accepted: false, result: { accepted: false, reason: decision.reason, state: run.state, run } };
  const { state: _s, ...fields } = decision.timing;
  const next = { ...run, ...fields, state: decision.state, updated: now.toISOString() } as T;
  if (!('total_run_time_seconds' in run)) delete (next as Partial<FlowRunRecord>).total_run_time_seconds;
  if (options.result !== undefined) next.result = options.result;
  runs.set(id, next);
  return { accepted: true, stateId: uuidv7(), previous: run.state, result: { accepted: true, state: decision.state, run: next } };
}
