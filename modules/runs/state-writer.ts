import { isUuid, newId } from '../../core/ids.ts';
import type { Pool, PoolClient } from '../../infra/db.ts';
import { DependencyUnavailableError, NotFoundError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { Batcher, ItemFailure } from '../../infra/batcher.ts';
import { pgErrorKind } from '../../infra/pg-errors.ts';
import { PreparedStatements } from '../../infra/prepared-sql.ts';
import type { State, StateInput } from '../../schemas/flow-run.ts';
import { DeploymentChangedError, type SetStateOptions, type SetStateResult } from './contract.ts';
import { FLOW_RUN_FROM, flowRunFromRow, TASK_RUN_COLUMNS, TASK_RUN_FROM, taskRunFromRow, type FlowRunRecord, type TaskRunRecord } from './rows.ts';
import { createFlowRunsSql, flowRunsByKeySql, insertFlowRunsSql, lockFlowRunsSql, replayingRunsSql, uuidArray, writeBatchSql, type OutboxRow, type ResumedSuspensionSql, type StateRow } from './state-writer-sql.ts';
import { flowRunStateEvent, taskRunStateEvent } from './engine/state-events.ts';
import { decideTransition } from './engine/states.ts';

/**
 * `deploymentVersion`: the run was made from a remembered read of its deployment, at this row version; it
 * is written only if the deployment is still that row and neither it nor its pool is paused, and fails
 * with a DeploymentChangedError otherwise.
 */
export type CreateFlowRunOptions = Pick<SetStateOptions, 'waitForDatabaseMs'> & { deploymentVersion?: string };

/** `waitUntil`: while PostgreSQL is unavailable the proposal is held and retried until then (epoch ms). */
type Op = { waitUntil: number } & (
  | { kind: 'create-flow'; run: FlowRunRecord; deploymentVersion?: string }
  | { kind: 'create-task'; run: TaskRunRecord }
  | { kind: 'flow-state'; id: string; proposed: StateInput; options: SetStateOptions }
  | { kind: 'task-state'; id: string; proposed: StateInput; options: SetStateOptions }
);
type OpResult = { run: FlowRunRecord; created: boolean } | TaskRunRecord | SetStateResult<FlowRunRecord> | SetStateResult<TaskRunRecord>;

export interface StateWriterOptions {
  maxBatch?: number;
  /** LISTEN/NOTIFY channel told after each commit that wrote outbox rows. */
  notifyChannel: string;
  /** Whether a run was suspended and resumed, as the waits module words it (a RUNNING transition answers `replay`). */
  resumedSuspensionSql: ResumedSuspensionSql;
}

/**
 * Groups proposed transitions from many runs into short batches (infra/batcher.ts, the one group
 * commit): one transaction per batch, multi-row statements, each run's rows locked and its transitions
 * validated in the order they were proposed. Batches commit one after another, so a run's transitions are
 * stored in order; every caller's promise settles only after the batch holding its transition is
 * committed (with the outbox rows). While PostgreSQL is unavailable, proposals are held (each as long as
 * its `waitForDatabaseMs` allows) and written when it is back.
 */
export class StateWriter {
  private readonly batcher: Batcher<Op, OpResult>;
  private readonly commitListeners = new Set<() => void>();
  /** The connection batches are written on, held while there is work. */
  private client: PoolClient | undefined;
  /** The batch write statements, prepared once per connection. */
  private readonly prepared = new PreparedStatements('reflex_state_');

  constructor(
    private readonly pg: Pool,
    private readonly log: Logger,
    private readonly options: StateWriterOptions,
  ) {
    this.batcher = new Batcher((ops) => this.commit(ops), log, {
      maxBatch: options.maxBatch ?? 500,
      hold: {
        when: (err) => pgErrorKind(err) === 'unavailable',
        until: (op) => op.waitUntil,
        giveUp: (err) => new DependencyUnavailableError('PostgreSQL', 'the state store', 'The change was not written; try again.', err),
        onHold: (err, held) => log.warn({ err: (err as Error)?.message, held }, 'PostgreSQL is unavailable; holding state changes until it is back'),
        onResume: (downMs) => log.info({ down_ms: downMs }, 'PostgreSQL is back; held state changes written'),
      },
      // Kept while proposals keep coming (no pool wait per batch), handed back when the writer goes idle.
      onIdle: () => this.releaseClient(),
    });
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
  createFlowRun(run: FlowRunRecord, options: CreateFlowRunOptions = {}): Promise<{ run: FlowRunRecord; created: boolean }> {
    return this.push({ kind: 'create-flow', run, deploymentVersion: options.deploymentVersion, waitUntil: waitUntil(options) }) as Promise<{ run: FlowRunRecord; created: boolean }>;
  }

  createTaskRun(run: TaskRunRecord, options: Pick<SetStateOptions, 'waitForDatabaseMs'> = {}): Promise<TaskRunRecord> {
    return this.push({ kind: 'create-task', run, waitUntil: waitUntil(options) }) as Promise<TaskRunRecord>;
  }

  setFlowRunState(id: string, proposed: StateInput, options: SetStateOptions = {}): Promise<SetStateResult<FlowRunRecord>> {
    return this.push({ kind: 'flow-state', id, proposed, options, waitUntil: waitUntil(options) }) as Promise<SetStateResult<FlowRunRecord>>;
  }

  setTaskRunState(id: string, proposed: StateInput, options: SetStateOptions = {}): Promise<SetStateResult<TaskRunRecord>> {
    return this.push({ kind: 'task-state', id, proposed, options, waitUntil: waitUntil(options) }) as Promise<SetStateResult<TaskRunRecord>>;
  }

  /** Resolves once everything proposed so far is committed. */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  private push(op: Op): Promise<OpResult> {
    if ((op.kind === 'flow-state' || op.kind === 'task-state') && !isUuid(op.id)) {
      return Promise.reject(new NotFoundError(op.kind === 'flow-state' ? 'flow run' : 'task run', op.id));
    }
    return this.batcher.push(op);
  }

  private releaseClient(err?: Error): void {
    const client = this.client;
    this.client = undefined;
    client?.release(err);
  }

  /**
   * One transaction in two round trips: BEGIN with the inserts of new flow runs and every read in one
   * multi-statement query, then every other write with COMMIT in another. Round trips, not statements, are
   * what a busy process pays for. A multi-statement query cannot take parameters, so the ids and JSON
   * documents travel as escaped literals: inline in the reads, and as the arguments of `EXECUTE` for the
   * writes, which are prepared once per connection (infra/prepared-sql.ts: parsed and planned once).
   */
  private async commit(batch: Op[]): Promise<Array<OpResult | ItemFailure>> {
    const client = (this.client ??= await this.pg.connect());
    let results: Map<Op, OpResult | ItemFailure>;
    try {
      results = await this.apply(client, batch);
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => this.releaseClient(e));
      throw err;
    }
    for (const listener of this.commitListeners) listener();
    return batch.map((op) => results.get(op) as OpResult | ItemFailure);
  }

  /** Applies a batch inside one transaction (committed here); answers each proposal's result. */
  private async apply(client: PoolClient, batch: Op[]): Promise<Map<Op, OpResult | ItemFailure>> {
    const creates = batch.filter((o): o is Extract<Op, { kind: 'create-flow' }> => o.kind === 'create-flow');
    if (creates.length === batch.length && creates.every((o) => !o.run.deployment_id || o.run.deployment_name)) return applyCreatesSql(client, this.prepared, creates, this.options.notifyChannel);
    const settle = new Map<Op, OpResult | ItemFailure>();
    const outbox: OutboxRow[] = [];
    const flowStates: StateRow[] = [];
    const taskStates: StateRow[] = [];
    const taskCreates = batch.filter((o): o is Extract<Op, { kind: 'create-task' }> => o.kind === 'create-task');
    const createdFlowIds = new Set(creates.map((o) => o.run.id));
    const createdTaskIds = new Set(taskCreates.map((o) => o.run.id));

    // 1. BEGIN, new flow runs, and the reads: the current rows of runs with transitions (locked in id
    //    order, so two writers cannot deadlock) and names for new runs' events. Runs created in this batch
    //    are not read: their row is the one this transaction writes.
    const flowIds = [...new Set(batch.flatMap((o) => (o.kind === 'flow-state' && !createdFlowIds.has(o.id) ? [o.id] : [])))];
    const taskIds = [...new Set(batch.flatMap((o) => (o.kind === 'task-state' && !createdTaskIds.has(o.id) ? [o.id] : [])))];
    const deploymentIds = [...new Set(creates.flatMap((o) => (o.run.deployment_id && !o.run.deployment_name ? [o.run.deployment_id] : [])))];
    const parentIds = [...new Set(taskCreates.flatMap((o) => (o.run.flow_run_id && !o.run.flow ? [o.run.flow_run_id] : [])))];
    // Runs proposed RUNNING: the same round trip says which of them replay their finished tasks.
    const startingIds = [...new Set(batch.flatMap((o) => (o.kind === 'flow-state' && o.proposed.type === 'RUNNING' && !createdFlowIds.has(o.id) ? [o.id] : [])))];
    const keys = [...new Set(creates.flatMap((o) => (o.run.idempotency_key ? [o.run.idempotency_key] : [])))];
    const statements = {
      // New flow runs first, so the read by key below also sees the rows this transaction inserted.
      inserted: creates.length ? insertFlowRunsSql(creates) : null,
      byKey: keys.length ? flowRunsByKeySql(keys, creates.map((o) => o.run.id)) : null,
      // Prepared, as the writes are: one of these is in every batch of transitions.
      flows: flowIds.length ? lockFlowRunsSql(flowIds) : null,
      tasks: taskIds.length ? `SELECT ${TASK_RUN_COLUMNS} FROM ${TASK_RUN_FROM} WHERE t.id = ANY(${uuidArray(taskIds)}) ORDER BY t.id FOR UPDATE OF t` : null,
      deployments: deploymentIds.length ? `SELECT id, name FROM deployments WHERE id = ANY(${uuidArray(deploymentIds)})` : null,
      parents: parentIds.length
        ? `SELECT f.id, f.name, f.flow_name, f.deployment_id, d.name AS deployment_name, f.work_pool FROM ${FLOW_RUN_FROM} WHERE f.id = ANY(${uuidArray(parentIds)})`
        : null,
      // After `flows`: the runs are locked by then, so no CRASHED state can commit between the two reads.
      replaying: startingIds.length ? replayingRunsSql(startingIds, this.options.resumedSuspensionSql) : null,
    };
    // One answer per entry (none for a null): results[0] is BEGIN's.
    const results = await this.prepared.run(client, ['BEGIN', ...Object.values(statements)]);
    const rowsOf = Object.fromEntries(Object.keys(statements).map((name, i) => [name, results[i + 1]])) as Record<keyof typeof statements, Record<string, unknown>[]>;
    const flows = new Map(rowsOf.flows.map((r) => [r.id as string, flowRunFromRow(r)]));
    const tasks = new Map(rowsOf.tasks.map((r) => [r.id as string, taskRunFromRow(r)]));
    const deploymentNames = new Map(rowsOf.deployments.map((r) => [r.id as string, r.name as string]));
    for (const { run } of creates) if (run.deployment_id) run.deployment_name ??= deploymentNames.get(run.deployment_id) ?? null;
    const replaying = new Set(rowsOf.replaying.map((r) => r.id as string));
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
    const byKey = runsByKey(rowsOf.byKey, creates, inserted);
    for (const op of creates) {
      if (inserted.has(op.run.id)) {
        const stateId = newId();
        flows.set(op.run.id, op.run);
        flowStates.push({ id: stateId, run_id: op.run.id, state: op.run.state });
        outbox.push({ run_id: op.run.id, event: flowRunStateEvent(stateId, op.run, null) });
        settle.set(op, { run: op.run, created: true });
      } else settle.set(op, notInserted(op, byKey));
    }
    // New task runs are inserted by the write below, in the state this batch leaves them in.
    for (const op of taskCreates) {
      const stateId = newId();
      tasks.set(op.run.id, op.run);
      taskStates.push({ id: stateId, run_id: op.run.id, state: op.run.state });
      outbox.push({ run_id: op.run.id, event: taskRunStateEvent(stateId, op.run, null) });
      settle.set(op, op.run);
    }

    // 3. Transitions, validated against the current row, in proposal order.
    const changedFlows = new Set<string>();
    const changedTasks = new Set<string>();
    for (const op of batch) {
      if (op.kind === 'flow-state') {
        const claimed = op.options.claim ? claim(flows, op.id, op.options.claim.attempt) : null;
        if (claimed?.refused) {
          settle.set(op, claimed.refused);
          continue;
        }
        if (claimed?.viaPending) {
          // The pick-up is history too: PENDING, with its event, just before RUNNING.
          const pending = transition('flow', flows, op.id, { type: 'PENDING' }, {});
          if (pending?.accepted) {
            changedFlows.add(op.id);
            flowStates.push({ id: pending.stateId, run_id: op.id, state: pending.result.state });
            outbox.push({ run_id: op.id, event: flowRunStateEvent(pending.stateId, pending.result.run, pending.previous) });
          }
        }
        const outcome = transition('flow', flows, op.id, op.proposed, op.options);
        if (!outcome) settle.set(op, new ItemFailure(new NotFoundError('flow run', op.id)));
        else if (!outcome.accepted) settle.set(op, outcome.result);
        else {
          changedFlows.add(op.id);
          // A CRASHED state of this very batch counts too (it is not in the table yet).
          if (outcome.result.state.type === 'CRASHED' && outcome.result.run.run_count > 0) replaying.add(op.id);
          if (outcome.result.state.type === 'RUNNING') outcome.result.replay = replaying.has(op.id);
          flowStates.push({ id: outcome.stateId, run_id: op.id, state: outcome.result.state });
          outbox.push({ run_id: op.id, event: flowRunStateEvent(outcome.stateId, outcome.result.run, outcome.previous, op.options.eventDetails) });
          settle.set(op, outcome.result);
        }
      } else if (op.kind === 'task-state') {
        const outcome = transition('task', tasks, op.id, op.proposed, op.options);
        if (!outcome) settle.set(op, new ItemFailure(new NotFoundError('task run', op.id)));
        else if (!outcome.accepted) settle.set(op, outcome.result);
        else {
          changedTasks.add(op.id);
          taskStates.push({ id: outcome.stateId, run_id: op.id, state: outcome.result.state });
          outbox.push({ run_id: op.id, event: taskRunStateEvent(outcome.stateId, outcome.result.run, outcome.previous) });
          settle.set(op, outcome.result);
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
    await this.prepared.run(client, [write, 'COMMIT']);
    return settle;
  }
}

/**
 * A batch of new flow runs that need nothing read (the runs the automations service and the scheduler
 * start, with their deployment's name): BEGIN, every write, the rows of repeated idempotency keys and
 * COMMIT in one round trip instead of two. Each new run's initial state and event are computed here and
 * written only for the runs actually inserted.
 */
async function applyCreatesSql(
  client: PoolClient,
  prepared: PreparedStatements,
  creates: Array<Extract<Op, { kind: 'create-flow' }>>,
  notifyChannel: string,
): Promise<Map<Op, OpResult | ItemFailure>> {
  const states: StateRow[] = [];
  const outbox: OutboxRow[] = [];
  for (const { run } of creates) {
    const stateId = newId();
    states.push({ id: stateId, run_id: run.id, state: run.state });
    outbox.push({ run_id: run.id, event: flowRunStateEvent(stateId, run, null) });
  }
  const keys = [...new Set(creates.flatMap((o) => (o.run.idempotency_key ? [o.run.idempotency_key] : [])))];
  const byKeySql = keys.length ? flowRunsByKeySql(keys, creates.map((o) => o.run.id)) : null;
  const [, insertedRows, keyRows] = await prepared.run(client, ['BEGIN', createFlowRunsSql(creates, states, outbox, notifyChannel), byKeySql, 'COMMIT']);
  const inserted = new Set(insertedRows.map((r) => r.id as string));
  const byKey = runsByKey(byKeySql ? keyRows : [], creates, inserted);
  const settle = new Map<Op, OpResult | ItemFailure>();
  for (const op of creates) {
    settle.set(op, inserted.has(op.run.id) ? { run: op.run, created: true } : notInserted(op, byKey));
  }
  return settle;
}

/**
 * The run each idempotency key of a batch names: a run stored before (read back), or one this batch
 * inserted (a second create with the same key in the batch answers the first's run).
 */
function runsByKey(stored: Record<string, unknown>[], creates: Array<Extract<Op, { kind: 'create-flow' }>>, inserted: Set<string>): Map<string, FlowRunRecord> {
  const byKey = new Map(stored.map((r) => [r.idempotency_key as string, flowRunFromRow(r)]));
  for (const { run } of creates) if (run.idempotency_key && inserted.has(run.id)) byKey.set(run.idempotency_key, run);
  return byKey;
}

/**
 * A new run the insert skipped: the run its idempotency key already names, or, made from a remembered
 * deployment read, a deployment that changed or was paused since.
 */
function notInserted(op: Extract<Op, { kind: 'create-flow' }>, byKey: Map<string, FlowRunRecord>): OpResult | ItemFailure {
  const found = op.run.idempotency_key ? byKey.get(op.run.idempotency_key) : undefined;
  if (found) return { run: found, created: false };
  if (op.deploymentVersion) return new ItemFailure(new DeploymentChangedError(op.run.deployment_id ?? ''));
  return new ItemFailure(new Error(`flow run with idempotency key "${op.run.idempotency_key}" vanished`));
}

/** The deadline of a proposal's patience with an unavailable database. */
function waitUntil(options: Pick<SetStateOptions, 'waitForDatabaseMs'>): number {
  return Date.now() + Math.max(0, options.waitForDatabaseMs ?? 0);
}

/**
 * A worker's claim (SetStateOptions.claim), checked against the run's current row: refused unless the run
 * is SCHEDULED or PENDING with the attempt still to run; `viaPending` when it has to pass PENDING first.
 * No row: null, and the transition answers NotFound.
 */
function claim(runs: Map<string, FlowRunRecord>, id: string, attempt: number): { refused?: SetStateResult<FlowRunRecord>; viaPending: boolean } | null {
  const run = runs.get(id);
  if (!run) return null;
  const refuse = (reason: string) => ({ refused: { accepted: false, reason, state: run.state, run }, viaPending: false });
  if (run.state.type !== 'SCHEDULED' && run.state.type !== 'PENDING') return refuse(`not startable: the run is ${run.state.type}`);
  if (run.run_count >= attempt) return refuse(`stale: attempt ${attempt} has run already (run count ${run.run_count})`);
  return { viaPending: run.state.type === 'SCHEDULED' };
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
  return { accepted: true, stateId: newId(), previous: run.state, result: { accepted: true, state: decision.state, run: next } };
}
