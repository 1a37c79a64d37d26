import type { FlowRun, LogLine, State, StateInput, TaskRun } from '../../schemas/flow-run.ts';

/**
 * What the SDK and the worker need from the runs module: the RunStore implements it on top of Postgres
 * (batched state writes with an outbox row per transition); the SDK and the worker code only against this
 * interface, so a flow called directly in a script and one served by a worker record the same way. The
 * module's other parts (queues, cancellation, slots, concurrency limits, the transition rules) are listed
 * in modules/runs/index.ts.
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

/**
 * A run created from a remembered deployment read was not written: the deployment changed since (or was
 * deleted), or it or its work pool is paused now. The caller reads the deployment again and decides anew.
 */
export class DeploymentChangedError extends Error {
  constructor(readonly deploymentId: string) {
    super(`deployment ${deploymentId} changed since it was read`);
    this.name = 'DeploymentChangedError';
  }
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
  /**
   * On an accepted RUNNING transition of a flow run: true when the attempt replays the run's finished
   * tasks (an earlier attempt crashed, or the run was suspended and resumed). Answered by the transition's
   * own batch, so starting an attempt costs no query of its own.
   */
  replay?: boolean;
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
  /**
   * A worker's claim of one attempt (RUNNING only): accepted only from SCHEDULED or PENDING and while the
   * run's attempt `attempt` has not run yet (run_count < attempt), so a duplicate or stale job starts
   * nothing; a SCHEDULED run passes PENDING on the way (its own state and event). The worker then needs
   * no read of the run before starting it: the transition reads and locks the row anyway.
   */
  claim?: { attempt: number };
  /** Added to the state event's payload as `details` (a PAUSED run says what it awaits: flow authors, issue 13). */
  eventDetails?: Record<string, unknown>;
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
