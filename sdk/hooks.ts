import type { FlowRun, State, StateInput } from '../schemas/flow-run.ts';
import { DEFAULT_STATE_NAMES } from '../schemas/flow-run.ts';
import { runContext, type RunContext } from './context.ts';
import { SdkUsageError } from './errors.ts';
import { NEVER_ABORTED } from './limits.ts';
import type { Logger } from './logger.ts';

/**
 * State hooks (Prefect's on_completion, on_failure, ...): functions called once a run reaches a state.
 * A hook runs after the state is committed, so it can never change it; its error (or rejection) is
 * logged on the run and swallowed. Hooks run one after the other, in the order given.
 */

/** The run a flow hook receives. `record` is the stored run (null when the run is not recorded). */
export interface HookFlowRun {
  id: string | null;
  name: string;
  flowName: string;
  parameters: Record<string, unknown>;
  runCount: number;
  record: FlowRun | null;
}

/** The task run a task hook receives. */
export interface HookTaskRun {
  id: string | null;
  taskName: string;
  /** `<task name>-<n>`: which call of the task inside its flow run. */
  dynamicKey: string;
  flowRunId: string | null;
  parameters: readonly unknown[];
}

export type FlowHook = (run: HookFlowRun, state: State) => unknown;
export type TaskHook = (run: HookTaskRun, state: State) => unknown;

export interface FlowHooks {
  onRunning?: FlowHook | readonly FlowHook[];
  onCompletion?: FlowHook | readonly FlowHook[];
  onFailure?: FlowHook | readonly FlowHook[];
  onCancellation?: FlowHook | readonly FlowHook[];
  /** Called on another worker of the pool once the crash sweeper marks the run CRASHED (the crashed process is gone). */
  onCrashed?: FlowHook | readonly FlowHook[];
}

export interface TaskHooks {
  onCompletion?: TaskHook | readonly TaskHook[];
  onFailure?: TaskHook | readonly TaskHook[];
}

export const FLOW_HOOK_KINDS = ['onRunning', 'onCompletion', 'onFailure', 'onCancellation', 'onCrashed'] as const;
export type FlowHookKind = (typeof FLOW_HOOK_KINDS)[number];
export const TASK_HOOK_KINDS = ['onCompletion', 'onFailure'] as const;
export type TaskHookKind = (typeof TASK_HOOK_KINDS)[number];

export type ResolvedHooks<K extends string, H> = Readonly<Record<K, readonly H[]>>;

/** Checks hook options at declaration, so a mistake fails at import time. */
export function resolveHooks<K extends string, H>(where: string, kinds: readonly K[], options: Partial<Record<K, H | readonly H[]>>): ResolvedHooks<K, H> {
  const out = {} as Record<K, readonly H[]>;
  for (const kind of kinds) {
    const value = options[kind];
    const list = value === undefined ? [] : Array.isArray(value) ? [...(value as readonly H[])] : [value as H];
    if (list.some((h) => typeof h !== 'function')) throw new SdkUsageError(`${where}: ${kind} must be a function or a list of functions (run, state) => ...`);
    out[kind] = list;
  }
  return out;
}

/**
 * Calls each hook in order; errors are logged (on the run, when `log` is bound to it) and never thrown.
 * The hooks run inside `ctx` (so emitEvent and getRunLogger see the run) with a signal that never aborts:
 * a cancellation hook must be able to do its work.
 */
export async function runHooks<R>(hooks: readonly ((run: R, state: State) => unknown)[], kind: string, run: R, state: State, log: Logger, ctx?: RunContext): Promise<void> {
  for (const [i, hook] of hooks.entries()) {
    try {
      const call = () => Promise.resolve(hook(run, state));
      await (ctx ? runContext.run({ ...ctx, signal: NEVER_ABORTED }, call) : call());
    } catch (err) {
      log.error({ err, hook: kind, hook_index: i, hook_name: hook.name || null }, `${kind} hook failed (the run's state is unchanged)`);
    }
  }
}

/** The state a hook receives when none was recorded (a run not recorded, or a task whose write is not awaited). */
export function localState(input: StateInput): State {
  return {
    type: input.type,
    name: input.name ?? DEFAULT_STATE_NAMES[input.type],
    timestamp: new Date().toISOString(),
    message: input.message ?? null,
    scheduled_time: null,
    error: input.error ?? null,
  };
}
