import { setMaxListeners } from 'node:events';
import { serializeError, toFieldIssues } from '../core/errors.ts';
import type { FlowRun, State, StateInput } from '../schemas/flow-run.ts';
import { fallbackLogger, resolveClient, type EngineClient } from './client.ts';
import { relatedFlowRun, runContext, type FlowScope, type RunContext } from './context.ts';
import type { ParametersSchema, ResolvedOptions } from './definition.ts';
import { CancelledError, errorMessage, NonRetriableError, ParameterValidationError } from './errors.ts';
import { runWithLimits, settleAll, sleep } from './limits.ts';
import { parametersOf, summarizeResult } from './results.ts';
import { canRetry, retryDelayMs } from './retry.ts';
import { localState, runHooks, type FlowHook, type FlowHookKind, type HookFlowRun, type ResolvedHooks } from './hooks.ts';
import { NEVER_ABORTED } from './limits.ts';
import { FlowSuspended } from './pause.ts';

/**
 * Runs flows: one attempt at a time (`runFlowAttempt`, shared by direct calls and workers), with the
 * state machine PENDING -> RUNNING -> COMPLETED | FAILED | CANCELLED, and SCHEDULED/AwaitingRetry
 * between attempts. A direct call retries in-process; a worker re-enqueues the next attempt instead.
 */

export interface FlowDefinition {
  readonly options: ResolvedOptions;
  readonly parameters: ParametersSchema | undefined;
  readonly fn: (...args: never[]) => Promise<unknown>;
  readonly hooks: ResolvedHooks<FlowHookKind, FlowHook>;
}

export type FlowAttemptResult =
  | { kind: 'completed'; value: unknown }
  /** `runCount`: the run count of the attempt that failed (the next attempt is `runCount + 1`). */
  | { kind: 'retry'; error: unknown; delayMs: number; scheduledTime: string; runCount: number }
  | { kind: 'failed'; error: unknown }
  | { kind: 'cancelled'; error: CancelledError }
  /** The run suspended itself (PAUSED/Suspended): a resume schedules it again. */
  | { kind: 'suspended' }
  /** The orchestration rules refused RUNNING (cancelled meanwhile, or another worker has the run). */
  | { kind: 'refused'; reason: string; state: State };

/** The run an attempt executes: a recorded one, or a stand-in when nothing is recorded. */
export interface AttemptRun {
  id: string | null;
  name: string;
  parameters: Record<string, unknown>;
}

/**
 * A recorded run a worker claims for one attempt without having read it: the RUNNING transition checks
 * the claim (SetStateOptions.claim) and answers the record, whose parameters are the flow's argument.
 */
export interface ClaimedRun {
  id: string;
  claim: number;
}

export async function runFlowAttempt(
  def: FlowDefinition,
  client: EngineClient | null,
  target: AttemptRun | ClaimedRun,
  args: readonly unknown[],
  options: { signal?: AbortSignal; attempt: number; parent?: RunContext },
): Promise<FlowAttemptResult> {
  const { name } = def.options;
  let runCount = options.attempt;
  let run: AttemptRun = 'claim' in target ? { id: target.id, name: def.options.name, parameters: {} } : target;
  const id = client ? run.id : null;
  let runningState: State = localState({ type: 'RUNNING' });
  let record: FlowRun | null = null;
  let replays = false;
  if ('claim' in target && !(client && id)) throw new Error('a claimed run needs the engine');
  if (client && id) {
    const claim = 'claim' in target ? { claim: { attempt: target.claim } } : undefined;
    const r = await client.store.setFlowRunState(id, { type: 'RUNNING' }, claim);
    if (!r.accepted) return { kind: 'refused', reason: r.reason ?? 'transition refused', state: r.state };
    runCount = r.run.run_count;
    runningState = r.state;
    record = r.run;
    // The heartbeat starts with RUNNING, before anything else can fail or wait: a run that is RUNNING
    // without one is what the crash sweeper marks CRASHED, live process or not.
    client.heartbeats.start(id);
    if (claim) {
      run = { id, name: r.run.name, parameters: r.run.parameters };
      args = [r.run.parameters];
    }
    // A run resumed after a suspension, or retried after its process died (a crash is no verdict on the
    // code, unlike a failure), starts from the top: its finished tasks return what they returned. The
    // RUNNING transition says so itself: this is on every attempt's start, and costs no query of its own.
    replays = r.replay === true;
  }
  let replay: Map<string, unknown> | undefined;
  try {
    replay = client && id && replays ? await client.completedTaskResults(id) : undefined;
  } catch (err) {
    if (client && id) client.heartbeats.stop(id);
    throw err;
  }
  const cancel = new AbortController();
  setMaxListeners(0, cancel.signal);
  const onParentAbort = () => cancel.abort(new CancelledError('the parent run was cancelled'));
  options.signal?.addEventListener('abort', onParentAbort, { once: true });
  if (options.signal?.aborted) onParentAbort();
  let stopWatching = () => {};
  if (client && id) {
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
    replay,
  };
  const log = (client?.log ?? fallbackLogger()).child(id ? { flow_run_id: id, flow_name: name, flow_run_name: run.name } : { flow_name: name });
  const hookCtx: RunContext = { flowRunId: id ?? undefined, flowName: name, related: id ? [relatedFlowRun(id, run.name)] : [], flow: scope, client, signal: NEVER_ABORTED, log };
  const hook = (kind: FlowHookKind, state: State, rec: FlowRun | null) =>
    runHooks(def.hooks[kind], kind, { id, name: run.name, flowName: name, parameters: run.parameters, runCount, record: rec } satisfies HookFlowRun, state, log, hookCtx);
  try {
    await hook('onRunning', runningState, record);
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
    const result = await finish(def, client, id, runCount, outcome, scope, log);
    if (result.final) await hook(result.final.kind, result.final.state, result.final.run);
    return result.result;
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
): Promise<{ result: FlowAttemptResult; final: FinalState | null }> {
  // Task states are part of the run's record: commit them before the run's own final state.
  await settleAll(scope.writes);
  if (!outcome.ok && outcome.error instanceof FlowSuspended) return { result: { kind: 'suspended' }, final: null };
  const store = client && id ? client.store : null;
  // The final state (and so its hook) is the one committed; a refused one (e.g. cancelled meanwhile) has no hook.
  const commit = async (kind: FinalState['kind'], input: StateInput, opts?: { result?: unknown }): Promise<FinalState | null> => {
    if (!store || !id) return { kind, state: localState(input), run: null };
    const r = await store.setFlowRunState(id, input, opts);
    if (!r.accepted) {
      log.warn({ reason: r.reason }, `flow finished but its ${input.type} state was refused`);
      return null;
    }
    return { kind, state: r.state, run: r.run };
  };
  if (outcome.ok) {
    const final = await commit('onCompletion', { type: 'COMPLETED' }, { result: summarizeResult(outcome.value) });
    return { result: { kind: 'completed', value: outcome.value }, final };
  }
  const { error } = outcome;
  if (outcome.kind === 'cancelled') {
    const final = await commit('onCancellation', { type: 'CANCELLED', message: errorMessage(error) });
    return { result: { kind: 'cancelled', error: error as CancelledError }, final };
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
          const final = await commit('onCancellation', { type: 'CANCELLED', message: 'cancelled while failing' });
          return { result: { kind: 'cancelled', error: new CancelledError() }, final };
        }
        return { result: { kind: 'failed', error }, final: null };
      }
    }
    return { result: { kind: 'retry', error, delayMs, scheduledTime, runCount }, final: null };
  }
  const final = await commit('onFailure', { type: 'FAILED', message, error: serializeError(error) });
  return { result: { kind: 'failed', error }, final };
}

/** The final state an attempt committed, and the hook kind it calls. */
interface FinalState {
  kind: 'onCompletion' | 'onFailure' | 'onCancellation';
  state: State;
  run: FlowRun | null;
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
        case 'suspended':
          throw new Error(`flow run ${run.id} was suspended; only a run served by a worker can be`);
        case 'refused':
          if (result.state.type === 'CANCELLED' || result.state.type === 'CANCELLING') throw new CancelledError(`flow run ${run.id} was cancelled`);
          throw new Error(`flow run ${run.id} of "${def.options.name}" could not start: ${result.reason}`);
      }
    }
  } finally {
    release?.();
  }
}
