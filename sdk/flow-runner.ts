import { setMaxListeners } from 'node:events';
import { serializeError, toFieldIssues } from '../core/errors.ts';
import type { FlowRun, State } from '../schemas/flow-run.ts';
import { fallbackLogger, resolveClient, type EngineClient } from './client.ts';
import { relatedFlowRun, runContext, type FlowScope, type RunContext } from './context.ts';
import type { ParametersSchema, ResolvedOptions } from './definition.ts';
import { CancelledError, errorMessage, NonRetriableError, ParameterValidationError } from './errors.ts';
import { runWithLimits, settleAll, sleep } from './limits.ts';
import { parametersOf, summarizeResult } from './results.ts';
import { canRetry, retryDelayMs } from './retry.ts';

/**
 * Runs flows: one attempt at a time (`runFlowAttempt`, shared by direct calls and workers), with the
 * state machine PENDING -> RUNNING -> COMPLETED | FAILED | CANCELLED, and SCHEDULED/AwaitingRetry
 * between attempts. A direct call retries in-process; a worker re-enqueues the next attempt instead.
 */

export interface FlowDefinition {
  readonly options: ResolvedOptions;
  readonly parameters: ParametersSchema | undefined;
  readonly fn: (...args: never[]) => Promise<unknown>;
}

export type FlowAttemptResult =
  | { kind: 'completed'; value: unknown }
  | { kind: 'retry'; error: unknown; delayMs: number; scheduledTime: string }
  | { kind: 'failed'; error: unknown }
  | { kind: 'cancelled'; error: CancelledError }
  /** The orchestration rules refused RUNNING (cancelled meanwhile, or another worker has the run). */
  | { kind: 'refused'; reason: string; state: State };

/** The run an attempt executes: a recorded one, or a stand-in when nothing is recorded. */
export interface AttemptRun {
  id: string | null;
  name: string;
  parameters: Record<string, unknown>;
}

export async function runFlowAttempt(
  def: FlowDefinition,
  client: EngineClient | null,
  run: AttemptRun,
  args: readonly unknown[],
  options: { signal?: AbortSignal; attempt: number; parent?: RunContext },
): Promise<FlowAttemptResult> {
  const { name } = def.options;
  let runCount = options.attempt;
  const id = client ? run.id : null;
  if (client && id) {
    const r = await client.store.setFlowRunState(id, { type: 'RUNNING' });
    if (!r.accepted) return { kind: 'refused', reason: r.reason ?? 'transition refused', state: r.state };
    runCount = r.run.run_count;
  }
  const cancel = new AbortController();
  setMaxListeners(0, cancel.signal);
  const onParentAbort = () => cancel.abort(new CancelledError('the parent run was cancelled'));
  options.signal?.addEventListener('abort', onParentAbort, { once: true });
  if (options.signal?.aborted) onParentAbort();
  let stopWatching = () => {};
  if (client && id) {
    client.heartbeats.start(id);
    stopWatching = client.cancellation.watch(id, () => cancel.abort(new CancelledError('cancellation was requested')));
  }
  const scope: FlowScope = {
    id,
    name: run.name,
    flowName: name,
    runCount,
    parameters: run.parameters,
    client,
    signal: cancel.signal,
    writes: new Set(),
    futures: new Set(),
    taskCalls: new Map(),
  };
  const log = (client?.log ?? fallbackLogger()).child(id ? { flow_run_id: id, flow_name: name, flow_run_name: run.name } : { flow_name: name });
  try {
    const outcome = await runWithLimits(
      (signal) => {
        const ctx: RunContext = {
          flowRunId: id ?? undefined,
          flowName: name,
          related: id ? [relatedFlowRun(id, run.name)] : [],
          flow: { ...scope, signal },
          client,
          signal,
          log,
        };
        // Tasks read the scope through the context; the attempt's signal (timeout included) is theirs.
        return runContext.run(ctx, async () => {
          const value = await def.fn(...(validateParameters(def, args) as never[]));
          await settleAll(ctx.flow?.futures ?? scope.futures);
          return value;
        });
      },
      { signal: cancel.signal, timeoutSeconds: def.options.timeoutSeconds, what: `flow "${name}"` },
    );
    return await finish(def, client, id, runCount, outcome, scope, log);
  } finally {
    options.signal?.removeEventListener('abort', onParentAbort);
    stopWatching();
    if (client && id) client.heartbeats.stop(id);
  }
}

async function finish(
  def: FlowDefinition,
  client: EngineClient | null,
  id: string | null,
  runCount: number,
  outcome: Awaited<ReturnType<typeof runWithLimits<unknown>>>,
  scope: FlowScope,
  log: ReturnType<typeof fallbackLogger>,
): Promise<FlowAttemptResult> {
  // Task states are part of the run's record: commit them before the run's own final state.
  await settleAll(scope.writes);
  const store = client && id ? client.store : null;
  if (outcome.ok) {
    if (store && id) {
      const r = await store.setFlowRunState(id, { type: 'COMPLETED' }, { result: summarizeResult(outcome.value) });
      if (!r.accepted) log.warn({ reason: r.reason }, 'flow finished but its COMPLETED state was refused');
    }
    return { kind: 'completed', value: outcome.value };
  }
  const { error } = outcome;
  if (outcome.kind === 'cancelled') {
    if (store && id) await store.setFlowRunState(id, { type: 'CANCELLED', message: errorMessage(error) });
    return { kind: 'cancelled', error: error as CancelledError };
  }
  const message = errorMessage(error);
  log.error({ err: error, attempt: runCount }, 'flow run attempt failed');
  if (!(error instanceof NonRetriableError) && canRetry(def.options, runCount)) {
    const delayMs = retryDelayMs(def.options, runCount);
    const scheduledTime = new Date(Date.now() + delayMs).toISOString();
    if (store && id) {
      const r = await store.setFlowRunState(id, { type: 'SCHEDULED', name: 'AwaitingRetry', scheduled_time: scheduledTime, message, error: serializeError(error) });
      if (!r.accepted) {
        if (r.state.type === 'CANCELLING' || r.state.type === 'CANCELLED') {
          await store.setFlowRunState(id, { type: 'CANCELLED', message: 'cancelled while failing' });
          return { kind: 'cancelled', error: new CancelledError() };
        }
        return { kind: 'failed', error };
      }
    }
    return { kind: 'retry', error, delayMs, scheduledTime };
  }
  if (store && id) await store.setFlowRunState(id, { type: 'FAILED', message, error: serializeError(error) });
  return { kind: 'failed', error };
}

function validateParameters(def: FlowDefinition, args: readonly unknown[]): readonly unknown[] {
  if (!def.parameters) return args;
  const parsed = def.parameters.safeParse(args[0] ?? {});
  if (parsed.success) return [parsed.data, ...args.slice(1)];
  throw new ParameterValidationError(def.options.name, toFieldIssues(parsed.error.issues));
}

/** A flow called as a function: records a run (a subflow inside another run), retries in-process. */
export async function callFlow(def: FlowDefinition, args: readonly unknown[]): Promise<unknown> {
  const parent = runContext.getStore();
  const client = parent ? parent.client : await resolveClient();
  const release = client?.hold();
  try {
    const parameters = parametersOf(args);
    let run: AttemptRun = { id: null, name: def.options.name, parameters };
    if (client) {
      const created: FlowRun = await client.store.createFlowRun({
        flow_name: def.options.name,
        parameters,
        tags: def.options.tags,
        parent_flow_run_id: parent?.flowRunId ?? null,
        parent_task_run_id: parent?.taskRunId ?? null,
        state: { type: 'PENDING' },
      });
      run = { id: created.id, name: created.name, parameters };
    }
    for (let attempt = 1; ; attempt++) {
      const result = await runFlowAttempt(def, client, run, args, { signal: parent?.signal, attempt, parent });
      switch (result.kind) {
        case 'completed':
          return result.value;
        case 'retry':
          await sleep(result.delayMs, parent?.signal);
          continue;
        case 'failed':
          throw result.error;
        case 'cancelled':
          throw result.error;
        case 'refused':
          if (result.state.type === 'CANCELLED' || result.state.type === 'CANCELLING') throw new CancelledError(`flow run ${run.id} was cancelled`);
          throw new Error(`flow run ${run.id} of "${def.options.name}" could not start: ${result.reason}`);
      }
    }
  } finally {
    release?.();
  }
}
