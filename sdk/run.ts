import { fallbackLogger } from './client.ts';
import { runContext } from './context.ts';
import { NEVER_ABORTED } from './limits.ts';
import type { Logger } from './logger.ts';

/** What flow and task code can learn about the run executing it. */
export interface RunInfo {
  flowRun: { id: string | null; name: string; flowName: string; runCount: number; parameters: Record<string, unknown> } | null;
  taskRun: { id: string | null; name: string } | null;
  /** Aborted when the run is cancelled or times out; pass it to fetch(), timers, database drivers. */
  signal: AbortSignal;
  log: Logger;
}

/**
 * The logger of the current flow or task run (Prefect's get_run_logger): its lines go to stdout and are
 * stored with the run. Outside a run it logs to stdout only.
 */
export function getRunLogger(): Logger {
  return runContext.getStore()?.log ?? fallbackLogger();
}

/** The current run; outside any flow or task, flowRun and taskRun are null and the signal never aborts. */
export function getRunContext(): RunInfo {
  const ctx = runContext.getStore();
  if (!ctx) return { flowRun: null, taskRun: null, signal: NEVER_ABORTED, log: fallbackLogger() };
  const f = ctx.flow;
  return {
    flowRun: f && f.flowName ? { id: f.id, name: f.name, flowName: f.flowName, runCount: f.runCount, parameters: f.parameters } : null,
    taskRun: ctx.taskName ? { id: ctx.taskRunId ?? null, name: ctx.taskName } : null,
    signal: ctx.signal,
    log: ctx.log,
  };
}
