import { z } from 'zod';
import type { FlowRun, State } from '../schemas/flow-run.ts';
import type { EngineClient } from './client.ts';
import { resolveOptions, type RunOptions } from './definition.ts';
import { SdkUsageError } from './errors.ts';
import { callFlow, runFlowAttempt, type FlowAttemptResult, type FlowDefinition } from './flow-runner.ts';
import { FLOW_HOOK_KINDS, resolveHooks, runHooks, type FlowHook, type FlowHooks } from './hooks.ts';
import { relatedFlowRun } from './context.ts';
import { serveFlow, type ServeHandle, type ServeOptions } from './serve.ts';

/** Run options plus state hooks (docs/sdk.md, "State hooks"). */
export interface FlowOptions extends RunOptions, FlowHooks {}

/** Flow options with a zod schema for the parameters object (validated on every run; JSON Schema for deployments). */
export interface FlowOptionsWithParameters<S extends z.ZodType> extends FlowOptions {
  parameters: S;
}

const FLOW = Symbol.for('reflex.flow');

/** What a worker needs to execute a deployed run of this flow (keyed by a global symbol, so a flows module with its own copy of the SDK still works). */
export interface FlowInternals {
  readonly definition: FlowDefinition;
  runAttempt(client: EngineClient, run: FlowRun, options: { signal?: AbortSignal }): Promise<FlowAttemptResult>;
  /**
   * Runs attempt `attempt` of a run the worker has not read: the RUNNING transition claims it (refused
   * when the run is not SCHEDULED or PENDING, or that attempt ran already) and answers its parameters.
   * Optional: a flows module with an older copy of the SDK lacks it, and its worker reads the run first.
   */
  claimAttempt?(client: EngineClient, run: { id: string; attempt: number }, options: { signal?: AbortSignal }): Promise<FlowAttemptResult>;
  /** Runs the onCrashed hooks of a run another process was executing, with its CRASHED state (the run may be retried by now). */
  runCrashedHooks(client: EngineClient, run: FlowRun, crashed: State): Promise<void>;
}

/** A flow: call it like the function it wraps; every call is a recorded flow run. */
export interface Flow<A extends unknown[], R> {
  (...args: A): Promise<R>;
  readonly flowName: string;
  readonly description: string | null;
  readonly tags: readonly string[];
  readonly retries: number;
  /** The zod schema of the parameters, when declared. */
  readonly parametersSchema: z.ZodType | undefined;
  /** JSON Schema of the parameters (for a deployment's parameter_schema), or null when none was declared. */
  parameterSchema(): Record<string, unknown> | null;
  /** Creates or updates a deployment of this flow and serves it from this process (needs `import 'reflex/serve'`). */
  serve(options: ServeOptions): Promise<ServeHandle>;
  readonly [FLOW]: FlowInternals;
}

/**
 * Declares a flow. With `parameters` (a zod object schema), the flow takes one parameters object that is
 * validated (and defaulted) before the body runs:
 *
 *   const etl = flow({ name: 'etl', parameters: z.object({ source: z.string() }) }, async ({ source }) => ...);
 */
export function flow<S extends z.ZodType<Record<string, unknown>>, R>(
  options: FlowOptionsWithParameters<S>,
  fn: (params: z.output<S>) => Promise<R>,
): Flow<[params: z.input<S>], R>;
export function flow<A extends unknown[], R>(options: FlowOptions, fn: (...args: A) => Promise<R>): Flow<A, R>;
export function flow(options: FlowOptions & { parameters?: z.ZodType }, fn: (...args: never[]) => Promise<unknown>): Flow<unknown[], unknown> {
  if (typeof fn !== 'function') throw new SdkUsageError('flow(options, fn): the second argument must be an async function');
  const resolved = resolveOptions('flow', options, fn);
  const parameters = options.parameters;
  if (parameters !== undefined && !(parameters instanceof z.ZodType)) throw new SdkUsageError(`flow("${resolved.name}"): parameters must be a zod schema, e.g. z.object({ ... })`);
  const hooks = resolveHooks<(typeof FLOW_HOOK_KINDS)[number], FlowHook>(`flow("${resolved.name}")`, FLOW_HOOK_KINDS, options);
  const definition: FlowDefinition = { options: resolved, parameters, fn, hooks };
  const callable = (...args: unknown[]) => callFlow(definition, args);
  const internals: FlowInternals = {
    definition,
    runAttempt: (client, run, opts) =>
      runFlowAttempt(definition, client, { id: run.id, name: run.name, parameters: run.parameters }, [run.parameters], {
        signal: opts.signal,
        attempt: run.run_count + 1,
      }),
    claimAttempt: (client, run, opts) => runFlowAttempt(definition, client, { id: run.id, claim: run.attempt }, [], { signal: opts.signal, attempt: run.attempt }),
    runCrashedHooks: async (client, run, crashed) => {
      const log = client.log.child({ flow_run_id: run.id, flow_name: run.flow_name, flow_run_name: run.name });
      const info = { id: run.id, name: run.name, flowName: run.flow_name, parameters: run.parameters, runCount: run.run_count, record: run };
      await runHooks(hooks.onCrashed, 'onCrashed', info, crashed, log, {
        flowRunId: run.id,
        flowName: run.flow_name,
        related: [relatedFlowRun(run.id, run.name)],
        client,
        signal: new AbortController().signal,
        log,
      });
    },
  };
  return Object.defineProperties(callable, {
    name: { value: resolved.name },
    flowName: { value: resolved.name, enumerable: true },
    description: { value: resolved.description, enumerable: true },
    tags: { value: resolved.tags, enumerable: true },
    retries: { value: resolved.retries, enumerable: true },
    parametersSchema: { value: parameters },
    parameterSchema: { value: () => (parameters ? (z.toJSONSchema(parameters, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>) : null) },
    serve: { value: (opts: ServeOptions) => serveFlow(callable, opts) },
    [FLOW]: { value: internals },
  }) as unknown as Flow<unknown[], unknown>;
}

/** True for values made by `flow()` (from any copy of the SDK). */
export function isFlow(value: unknown): value is Flow<unknown[], unknown> {
  return typeof value === 'function' && FLOW in value;
}

export function flowInternals(f: Flow<unknown[], unknown>): FlowInternals {
  return f[FLOW];
}
