import type { Redis } from 'ioredis';
import type { Logger } from '../../core/log.ts';
import type { Names } from '../../core/names.ts';
import type { Pool } from '../../infra/db.ts';
import type { Queues } from '../../infra/queues.ts';
import { Cancellation } from './cancellation.ts';
import { Commands } from './commands.ts';
import { DeploymentRuns } from './deployment-runs.ts';
import { Deployments } from './deployments.ts';
import { FlowRunOps } from './flow-run-ops.ts';
import { RunQueues } from './run-queues.ts';
import { RunSlots } from './run-slots.ts';
import { RunStore } from './run-store.ts';
import type { ResumedSuspensionSql } from './state-writer-sql.ts';
import { WorkPools } from './work-pools.ts';

/**
 * The runs module: flows' runs, their tasks, deployments, work pools, schedules and limits. It owns the
 * tables `flow_runs`, `task_runs`, `flow_run_states`, `task_run_states`, `deployments`, `work_pools`,
 * `outbox` and `logs`, the work-pool queues, and the Redis keys of cancellation, heartbeats, limits and
 * worker presence.
 * Services and the SDK use only what this file exports.
 */

export interface RunsDeps {
  pg: Pool;
  redis: Redis;
  names: Names;
  log: Logger;
  queues: Queues;
  /** A new Redis connection of its own (the cancellation subscriber). */
  redisConnection(name: string): Redis;
  /** The waits module's SQL for "this run was suspended and resumed" (its `resumedSuspensionSql`): a RUNNING transition says whether the attempt replays. */
  resumedSuspensionSql: ResumedSuspensionSql;
}

/** The parts of the module that hold state, built once per process (the state writer batches all of its proposals). */
export interface Runs {
  readonly store: RunStore;
  readonly queues: RunQueues;
  readonly workPools: WorkPools;
  readonly deployments: Deployments;
  readonly deploymentRuns: DeploymentRuns;
  readonly flowRuns: FlowRunOps;
  readonly commands: Commands;
  readonly cancellation: Cancellation;
  readonly slots: RunSlots;
  /** Commits every proposal and buffered log line (call before closing the connections). */
  drain(): Promise<void>;
}

export function createRuns(deps: RunsDeps): Runs {
  const store = new RunStore(deps.pg, deps.names, deps.log, deps.resumedSuspensionSql);
  const queues = new RunQueues(deps.queues, deps.log);
  const workPools = new WorkPools(deps.pg, queues);
  const deploymentRuns = new DeploymentRuns(deps.pg, store, workPools, queues);
  const deployments = new Deployments(deps.pg, deploymentRuns);
  const cancellation = new Cancellation(deps.redis, deps.names, deps.redisConnection, deps.log);
  const flowRuns = new FlowRunOps(store, cancellation, queues);
  return {
    store,
    queues,
    workPools,
    deployments,
    deploymentRuns,
    flowRuns,
    commands: new Commands(deps.pg, deployments, deploymentRuns, flowRuns),
    cancellation,
    slots: new RunSlots(deps.pg, deps.redis, deps.names),
    drain: () => store.drain(),
  };
}

export type { RunStore } from './run-store.ts';
export type { RunQueues, EnqueueOptions } from './run-queues.ts';
export type { WorkPools } from './work-pools.ts';
export type { Deployments, ApplyOutcome } from './deployments.ts';
export type { DeploymentRuns, DeploymentRunRequest } from './deployment-runs.ts';
export type { FlowRunOps } from './flow-run-ops.ts';
export type { Commands, CommandResult } from './commands.ts';
export type { Cancellation } from './cancellation.ts';
export type { RunSlots, RunSlot, RunSlotResult, SlotRun } from './run-slots.ts';
export type { CreateFlowRunInput, CreateTaskRunInput, Orchestration, SetStateOptions, SetStateResult } from './contract.ts';
export type { FlowRunRecord, TaskRunRecord } from './rows.ts';
export { publicFlowRun, publicTaskRun } from './rows.ts';
export { runKeys } from './deployment-runs.ts';
export { getDeployment, requireDeployment, listDeployments, schedulableDeploymentIds } from './deployments.ts';
export { ensureWorkPool } from './work-pools.ts';
export { listFlowRuns, getFlowRunDetail, getFlowRunLogs, longActiveRuns, overdueRuns, recentCrashes, existingRunKeys, type FlowRunFilter, type FlowRunDetail } from './flow-run-queries.ts';
// Crash retries replay finished tasks (wait-restart, issue 13).
export { relayOutbox, outboxLockKey, outboxBacklog, type OutboxRow } from './outbox.ts';
export { Heartbeats, heartbeatKey, heartbeatTtlMs } from './heartbeats.ts';
export {
  acquireSlot,
  release,
  ConcurrencySlotTimeoutError,
  setConcurrencyLimit,
  getConcurrencyLimit,
  getConcurrencyLimitInfo,
  listConcurrencyLimits,
  deleteConcurrencyLimit,
  concurrencyHolders,
  type Lease,
  type AcquireOptions,
  type ConcurrencyLimitInfo,
} from './concurrency-limits.ts';
export { searchFlowRuns, flowRunHistory, type RunSearch, type RunHistoryFilter } from './run-search.ts';
export { getRunOrigin, type RunOrigin } from './run-causes.ts';
export { searchLogs, type LogSearch } from './log-search.ts';
export { deploymentPlan } from './deployment-plan.ts';
export { workPoolStatuses, type PoolStatusDeps } from './pool-status.ts';
export { WorkerPresence, readWorkers, type WorkerPresenceOptions } from './worker-presence.ts';
export { decideTransition, stateEventName, isTerminal, StateNames, ALLOWED_TRANSITIONS, type RunTiming, type TransitionDecision } from './engine/states.ts';
export { upcomingStartTimes, DEFAULT_ANCHOR } from './engine/schedule.ts';
export { validateParameters, parameterSchemaProblem } from './engine/parameters.ts';
// run control (issue 15): concurrency keys, priority, SLAs
export { bullPriority, MAX_RUN_PRIORITY } from './run-queues.ts';
export { keyHolders, runKeyHash } from './run-keys.ts';
export { deploymentsWithSlas, slaRunFacts, type SlaDeployment } from './sla-facts.ts';
export { evaluateSlas, slaTransitions, slaEventId, type SlaFacts, type SlaViolation } from './engine/slas.ts';
export { flowRunMeasure, type FlowRunMeasureQuery, type FlowRunMetric, type Measure } from './run-measures.ts';
