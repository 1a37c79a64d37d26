import type { FlowRun, LogLine, State, StateInput, TaskRun } from '../../schemas/flow-run.ts';

/**
 * Implementations and companions (services/orchestration/):
 * - `orchestration(rt)` in store.ts: THE implementation of this interface (one per runtime; it batches
 *   state writes, so share it). `await orchestration(rt).drain()` before closing the runtime.
 * - concurrency.ts: `acquireSlot(redis, names, name, { occupy?, leaseSeconds?, timeoutMs? }) -> Lease`,
 *   `release(lease)` / `lease.release()`: global concurrency limits by name (no limit set = unlimited).
 * - slots.ts: `acquireRunSlot(rt, run) -> { acquired, slot | reason }`: deployment and work-pool limits.
 * - cancellation.ts: `watchCancellation(rt, runId, onCancel) -> stop`, `requestCancel(rt, runId)`.
 * - enqueue.ts: `enqueueFlowRun(rt, run, { attempt, scheduledTime })` (e.g. a retry after AwaitingRetry),
 *   `workPoolQueue(rt, pool)`; job name `flow-run`, id `flowRunJobId(run id, attempt)` (schemas/jobs.ts).
 * - states.ts: the transition rules; RUNNING after a previous run is named Retrying automatically.
 *
 * What the SDK and the worker need from orchestration. The orchestration module implements it on top of
 * Postgres (batched state writes with an outbox row per transition); the SDK and worker code only against
 * this interface, so a flow called directly in a script and one served by a worker record the same way.
 */
export interface CreateFlowRunInput {
  /** A UUID chosen by the caller (UUID v7 recommended, ids order runs by creation); generated when absent. */
  id?: string;
  flow_name: string;
  parameters?: Record<string, unknown>;
  deployment_id?: string | null;
  work_pool?: string | null;
  tags?: string[];
  parent_task_run_id?: string | null;
  parent_flow_run_id?: string | null;
  /** Initial state; PENDING when called directly, SCHEDULED when created for a deployment. */
  state?: StateInput;
  idempotency_key?: string | null;
}

export interface CreateTaskRunInput {
  /**
   * A UUID chosen by the caller, so it can propose the task's next states without awaiting the creation
   * (proposals made in order through one writer are applied in order). Generated (v7) when absent.
   */
  id?: string;
  flow_run_id: string | null;
  task_name: string;
  dynamic_key: string;
  cache_key?: string | null;
  /** When a COMPLETED result under cache_key stops being reused; null = never expires. */
  cache_expiration?: string | null;
  parameters?: Record<string, unknown>;
  tags?: string[];
}

export interface SetStateResult<T> {
  /** False when the orchestration rules refused the transition; `reason` says why. */
  accepted: boolean;
  reason?: string;
  state: State;
  run: T;
}

export interface SetStateOptions {
  /** Skip transition rules (API `set-state` with force, crash detection). */
  force?: boolean;
  /** JSON-serialisable result summary, stored when the state is terminal. */
  result?: unknown;
  /**
   * How long the change may be held while PostgreSQL is unavailable, then retried, before it fails with
   * `dependency_unavailable` (default 0: fail at once). Workers executing a run wait; API calls do not.
   */
  waitForDatabaseMs?: number;
}

export interface Orchestration {
  createFlowRun(input: CreateFlowRunInput): Promise<FlowRun>;
  getFlowRun(id: string): Promise<FlowRun | null>;
  /** Resolves once the state and its outbox row are committed (batched with others for throughput). */
  setFlowRunState(id: string, state: StateInput, options?: SetStateOptions): Promise<SetStateResult<FlowRun>>;
  createTaskRun(input: CreateTaskRunInput): Promise<TaskRun>;
  setTaskRunState(id: string, state: StateInput, options?: SetStateOptions): Promise<SetStateResult<TaskRun>>;
  /** Finds a COMPLETED task run with this cache key whose cache has not expired; returns its result. */
  findCachedTaskResult(cacheKey: string): Promise<{ task_run_id: string; result: unknown } | null>;
  /** Buffers log lines; they are written in batches, not one insert per line. */
  appendLogs(lines: LogLine[]): void;
  /** Writes buffered logs now (called when a run ends). */
  flushLogs(): Promise<void>;
}
