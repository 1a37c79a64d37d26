import { serializeError } from '../core/errors.ts';
import { uuidv7 } from 'uuidv7';
import type { StateInput } from '../schemas/flow-run.ts';
import type { SetStateOptions } from '../modules/runs/index.ts';
import { fallbackLogger, resolveClient, type EngineClient } from './client.ts';
import { relatedTaskRun, runContext, type FlowScope, type RunContext } from './context.ts';
import type { ResolvedOptions } from './definition.ts';
import { CancelledError, errorMessage, NonRetriableError } from './errors.ts';
import { NEVER_ABORTED, runWithLimits, settleAll, sleep } from './limits.ts';
import { CACHE_MAX_BYTES, hashInputs, isStoredInFull, summarizeResult, SUMMARY_MAX_BYTES, toJsonValue } from './results.ts';
import { inSpan, trace, tracingEnabled } from '../infra/tracing.ts';
import { canRetry, retryDelayMs } from './retry.ts';
import { localState, runHooks, type ResolvedHooks, type TaskHook, type TaskHookKind } from './hooks.ts';

/**
 * Runs tasks. A task's states are proposed without waiting for their commit (each after the previous
 * one, in order) so a task costs no database round trip of its own; the flow run waits for all of them
 * before its final state. Only a cache lookup waits, because its answer decides whether the body runs.
 */

export interface TaskDefinition {
  readonly options: ResolvedOptions;
  readonly cacheKey: 'inputs' | ((...args: never[]) => string) | undefined;
  readonly cacheExpirationSeconds: number | undefined;
  readonly fn: (...args: never[]) => Promise<unknown>;
  readonly hooks: ResolvedHooks<TaskHookKind, TaskHook>;
}

/** A task called as a function, inside a flow or on its own. */
export async function callTask(def: TaskDefinition, args: readonly unknown[]): Promise<unknown> {
  // Inside a traced flow run, each task call is a span of the run's trace (nothing made otherwise).
  if (tracingEnabled() && trace.getActiveSpan()) return inSpan(`reflex.task ${def.options.name}`, {}, () => callTaskNow(def, args));
  return callTaskNow(def, args);
}

async function callTaskNow(def: TaskDefinition, args: readonly unknown[]): Promise<unknown> {
  const ctx = runContext.getStore();
  if (ctx?.flow) return runTask(def, args, ctx.flow, ctx);
  // A task outside any flow is recorded on its own (no flow run), like Prefect 3.
  const client = ctx ? ctx.client : await resolveClient();
  const release = client?.hold();
  const scope: FlowScope = {
    id: null,
    name: '',
    flowName: '',
    runCount: 1,
    parameters: {},
    client,
    signal: ctx?.signal ?? NEVER_ABORTED,
    writes: new Set(),
    futures: new Set(),
    taskCalls: new Map(),
  };
  try {
    return await runTask(def, args, scope, ctx);
  } finally {
    await settleAll(scope.writes);
    release?.();
  }
}

async function runTask(def: TaskDefinition, args: readonly unknown[], scope: FlowScope, parent: RunContext | undefined): Promise<unknown> {
  const { name } = def.options;
  if (scope.signal.aborted) throw new CancelledError(`task "${name}" not started: the run was cancelled`);
  // Counted before any await, so call order (not completion order) names the call sites.
  const n = scope.taskCalls.get(name) ?? 0;
  scope.taskCalls.set(name, n + 1);
  const dynamicKey = `${name}-${n}`;
  const client = scope.client;
  // A resumed suspended run: this call finished before the suspension, so its recorded result is returned.
  if (scope.replay?.has(dynamicKey)) return scope.replay.get(dynamicKey);
  const cacheKey = def.cacheKey === undefined ? null : `${name}:${def.cacheKey === 'inputs' ? hashInputs(args) : String((def.cacheKey as (...a: unknown[]) => unknown)(...args))}`;

  if (client && cacheKey) {
    const hit = await client.store.findCachedTaskResult(cacheKey);
    if (hit && isStoredInFull(hit.result)) {
      const id = uuidv7();
      // The copy is already expired so it never serves as a cache source itself (that would extend the expiry).
      const created = client.createTaskRun(id, { ...taskRunInput(def, args, scope, dynamicKey), cache_key: cacheKey, cache_expiration: new Date().toISOString() });
      const cached = { type: 'COMPLETED', name: 'Cached', message: `result of task run ${hit.task_run_id}` } as const;
      track(scope, client, created.then(() => client.store.setTaskRunState(id, cached, { force: true, result: hit.result })));
      const log = (parent?.log ?? client.log).child({ task_run_id: id, task_name: name });
      await runHooks(def.hooks.onCompletion, 'onCompletion', { id, taskName: name, dynamicKey, flowRunId: scope.id, parameters: args }, localState(cached), log, parent);
      return hit.result;
    }
  }

  const id = client ? uuidv7() : null;
  let chain: Promise<unknown> | null = null;
  if (client && id) {
    const expiration = cacheKey && def.cacheExpirationSeconds !== undefined ? new Date(Date.now() + def.cacheExpirationSeconds * 1000).toISOString() : null;
    chain = track(scope, client, client.createTaskRun(id, { ...taskRunInput(def, args, scope, dynamicKey), cache_key: cacheKey, cache_expiration: expiration }));
  }
  const propose = (state: StateInput, options?: SetStateOptions) => {
    if (!client || !id || !chain) return;
    chain = track(scope, client, chain.then(() => client.store.setTaskRunState(id, state, options)));
  };

  const baseLog = parent?.log ?? client?.log ?? fallbackLogger();
  const log = id ? baseLog.child({ task_run_id: id, task_name: name }) : baseLog.child({ task_name: name });
  const related = id ? [...(parent?.related ?? []), relatedTaskRun(id, dynamicKey)] : (parent?.related ?? []);
  const hookCtx: RunContext = { flowRunId: scope.id ?? undefined, flowName: scope.flowName || undefined, taskRunId: id ?? undefined, taskName: name, related, flow: scope, client, signal: NEVER_ABORTED, log };
  // A task's states are not awaited (see above), so its hooks get the state as proposed.
  const hook = (kind: TaskHookKind, state: StateInput) =>
    runHooks(def.hooks[kind], kind, { id, taskName: name, dynamicKey, flowRunId: scope.id, parameters: args }, localState(state), log, hookCtx);
  for (let attempt = 1; ; attempt++) {
    propose({ type: 'RUNNING' });
    const outcome = await runWithLimits(
      (signal) => {
        const ctx: RunContext = {
          flowRunId: scope.id ?? undefined,
          flowName: scope.flowName || undefined,
          taskRunId: id ?? undefined,
          taskName: name,
          related,
          flow: scope,
          client,
          signal,
          log,
        };
        return runContext.run(ctx, () => def.fn(...(args as never[])));
      },
      { signal: scope.signal, timeoutSeconds: def.options.timeoutSeconds, what: `task "${name}"` },
    );
    if (outcome.ok) {
      propose({ type: 'COMPLETED' }, { result: summarizeResult(outcome.value, cacheKey ? CACHE_MAX_BYTES : SUMMARY_MAX_BYTES) });
      await hook('onCompletion', { type: 'COMPLETED' });
      // A cached result must be stored before the task returns, so the next call with the same inputs finds it.
      if (cacheKey && chain) await (chain as Promise<unknown>).catch(() => {});
      // A cached task returns what a cache hit would: its JSON form, so both paths give the same value.
      return cacheKey ? toJsonValue(outcome.value) : outcome.value;
    }
    const { error } = outcome;
    if (outcome.kind === 'cancelled') {
      propose({ type: 'CANCELLED', message: errorMessage(error) });
      throw error;
    }
    const message = errorMessage(error);
    if (!(error instanceof NonRetriableError) && canRetry(def.options, attempt)) {
      const delayMs = retryDelayMs(def.options, attempt);
      log.warn({ err: error, attempt, retry_in_ms: delayMs }, 'task failed; retrying');
      propose({ type: 'SCHEDULED', name: 'AwaitingRetry', scheduled_time: new Date(Date.now() + delayMs).toISOString(), message, error: serializeError(error) });
      try {
        await sleep(delayMs, scope.signal);
      } catch (cancelled) {
        propose({ type: 'CANCELLED', message: errorMessage(cancelled) });
        throw cancelled;
      }
      continue;
    }
    log.error({ err: error, attempt }, 'task failed');
    const failed: StateInput = { type: 'FAILED', message, error: serializeError(error) };
    propose(failed);
    await hook('onFailure', failed);
    throw error;
  }
}

function taskRunInput(def: TaskDefinition, args: readonly unknown[], scope: FlowScope, dynamicKey: string) {
  return {
    flow_run_id: scope.id,
    task_name: def.options.name,
    dynamic_key: dynamicKey,
    parameters: taskParameters(args),
    tags: def.options.tags,
  };
}

/** Task inputs as recorded: positional, summarised so a huge input does not bloat the run row. */
function taskParameters(args: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  args.forEach((a, i) => (out[String(i)] = summarizeResult(a, 2048)));
  return out;
}

/** Registers a state write with the run, so the run waits for it; a failed write is logged, never thrown. */
function track(scope: FlowScope, client: EngineClient, p: Promise<unknown>): Promise<unknown> {
  const tracked: Promise<unknown> = p
    .catch((err: unknown) => client.processLog.warn({ err, flow_run_id: scope.id }, 'could not record a task run state'))
    .finally(() => scope.writes.delete(tracked));
  scope.writes.add(tracked);
  return p;
}
