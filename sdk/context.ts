import { AsyncLocalStorage } from 'node:async_hooks';
import type { RelatedResource } from '../schemas/event.ts';
import type { EngineClient } from './client.ts';
import type { Logger } from './logger.ts';

/**
 * What the SDK knows about the code currently running: set by the flow and task runners, read by
 * emitEvent to add the current flow run and task run as related resources, and by getRunLogger.
 */
export interface RunContext {
  flowRunId?: string;
  flowName?: string;
  taskRunId?: string;
  taskName?: string;
  /** Related resources every event emitted in this context carries. */
  related: RelatedResource[];
  /** The flow run scope (absent for a task called outside any flow). */
  flow?: FlowScope;
  /** Where runs started in this context record (null: not recorded). */
  client: EngineClient | null;
  /** Aborted when the run is cancelled or times out; its reason is a CancelledError or RunTimeoutError. */
  signal: AbortSignal;
  log: Logger;
}

/** Per flow-run state shared by its tasks: the engine client, pending writes, task call counters. */
export interface FlowScope {
  /** Null when the run is not recorded (engine unreachable). */
  readonly id: string | null;
  readonly name: string;
  readonly flowName: string;
  readonly runCount: number;
  readonly parameters: Record<string, unknown>;
  readonly client: EngineClient | null;
  readonly signal: AbortSignal;
  /** Task state writes in flight; the run waits for them before its final state. */
  readonly writes: Set<Promise<unknown>>;
  /** Submitted tasks not yet finished; a successful run waits for them before it completes. */
  readonly futures: Set<Promise<unknown>>;
  readonly taskCalls: Map<string, number>;
  /** Results of the tasks a suspended run finished before it was suspended, by dynamic key (returned instead of running again). */
  readonly replay?: ReadonlyMap<string, unknown>;
}

export const runContext = new AsyncLocalStorage<RunContext>();

export function currentRelatedResources(): RelatedResource[] {
  return runContext.getStore()?.related ?? [];
}

export const relatedFlowRun = (id: string, name: string): RelatedResource => ({
  'reflex.resource.id': `reflex.flow-run.${id}`,
  'reflex.resource.role': 'flow-run',
  'reflex.resource.name': name,
});

export const relatedTaskRun = (id: string, name: string): RelatedResource => ({
  'reflex.resource.id': `reflex.task-run.${id}`,
  'reflex.resource.role': 'task-run',
  'reflex.resource.name': name,
});
