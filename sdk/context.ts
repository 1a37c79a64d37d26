import { AsyncLocalStorage } from 'node:async_hooks';
import type { RelatedResource } from '../schemas/event.ts';

/**
 * What the SDK knows about the code currently running: set by the flow and task runners, read by
 * emitEvent to add the current flow run and task run as related resources.
 */
export interface RunContext {
  flowRunId?: string;
  flowName?: string;
  taskRunId?: string;
  taskName?: string;
  /** Related resources every event emitted in this context carries. */
  related: RelatedResource[];
}

export const runContext = new AsyncLocalStorage<RunContext>();

export function currentRelatedResources(): RelatedResource[] {
  return runContext.getStore()?.related ?? [];
}
