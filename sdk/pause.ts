import { z } from 'zod';
import { toFieldIssues, ValidationError } from '../core/errors.ts';
import { StateNames } from '../modules/runs/index.ts';
import type { FlowRunWait } from '../modules/waits/index.ts';
import type { EngineClient } from './client.ts';
import { runContext, type FlowScope } from './context.ts';
import { CancelledError, NonRetriableError, SdkUsageError } from './errors.ts';
import { settleAll, sleep } from './limits.ts';

/**
 * Pause and suspend (Prefect's pause_flow_run / suspend_flow_run). Both record a wait (modules/waits) and
 * move the run to PAUSED, with what it awaits in the state event (`details`: the input's JSON Schema and
 * the timeout), so an automation can notify whoever must approve. A resume (`POST /api/flow-runs/:id/resume`)
 * validates the input against that schema and resolves the wait; the timeout resolves it the other way.
 * - pause keeps the flow waiting in its process (and its worker slot);
 * - suspend ends the attempt and gives the slot back; the resume schedules the run again, it starts from
 *   the top, its finished tasks return their recorded results and this call returns the input.
 */

export interface PauseOptions<S extends z.ZodType | undefined> {
  /** How long to wait for a resume before the run fails (default 3600). */
  timeoutSeconds?: number;
  /** A zod schema of the input the resume must send (validated by the API against its JSON Schema). */
  input?: S;
}

export type ResumeInput<S extends z.ZodType | undefined> = S extends z.ZodType ? z.output<S> : undefined;

/** How often a paused flow looks for its resume (one indexed row read). */
const POLL_MS = 250;
const DEFAULT_TIMEOUT_SECONDS = 3600;

/** Thrown through the flow body by suspendFlowRun: the attempt ends without a final state. */
export class FlowSuspended extends Error {
  constructor(readonly flowRunId: string) {
    super(`flow run ${flowRunId} is suspended until it is resumed`);
  }
}

export function pauseFlowRun<S extends z.ZodType | undefined = undefined>(options: PauseOptions<S> = {}): Promise<ResumeInput<S>> {
  return wait('pause', options);
}

export function suspendFlowRun<S extends z.ZodType | undefined = undefined>(options: PauseOptions<S> = {}): Promise<ResumeInput<S>> {
  return wait('suspend', options);
}

async function wait<S extends z.ZodType | undefined>(kind: 'pause' | 'suspend', options: PauseOptions<S>): Promise<ResumeInput<S>> {
  const fn = kind === 'pause' ? 'pauseFlowRun' : 'suspendFlowRun';
  const ctx = runContext.getStore();
  const scope = ctx?.flow;
  if (!ctx || !scope || !scope.flowName) throw new SdkUsageError(`${fn}() must be called inside a flow`);
  if (ctx.taskRunId || ctx.taskName) throw new SdkUsageError(`${fn}() must be called in the flow's body, not inside a task`);
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new SdkUsageError(`${fn}(): timeoutSeconds must be > 0, got ${timeoutSeconds}`);
  const schema = options.input;
  if (schema !== undefined && !(schema instanceof z.ZodType)) throw new SdkUsageError(`${fn}(): input must be a zod schema, e.g. z.object({ approved: z.boolean() })`);
  const client = scope.client;
  const id = scope.id;
  if (!client || !id) throw new SdkUsageError(`${fn}() needs a recorded run (the engine is unreachable, so nobody could resume it)`);

  const n = scope.taskCalls.get('$pause') ?? 0;
  scope.taskCalls.set('$pause', n + 1);
  const waitKey = `pause-${n}`;
  if (kind === 'suspend') {
    const run = await client.store.getFlowRun(id);
    if (!run?.work_pool) throw new SdkUsageError('suspendFlowRun() needs a run of a deployment served by a work pool (a worker starts it again on resume); use pauseFlowRun() in a script');
  }
  const inputSchema = schema ? jsonSchemaOf(schema) : null;
  const timeoutAt = new Date(Date.now() + timeoutSeconds * 1000).toISOString();
  const opened = await client.waits.open({ flow_run_id: id, wait_key: waitKey, kind, spec: { input_schema: inputSchema, timeout_seconds: timeoutSeconds }, timeout_at: timeoutAt });
  // A suspended run started again passes its earlier waits with their answers.
  if (opened.resolved_at) return answer(opened, schema, timeoutSeconds);

  // The tasks so far are part of the record a person reviews before resuming: commit them first.
  await settleAll(scope.writes);
  const details = { awaiting: 'input', kind, wait_key: waitKey, input_schema: inputSchema, timeout_seconds: timeoutSeconds, timeout_at: opened.timeout_at };
  const message = `${kind === 'pause' ? 'paused' : 'suspended'}: waiting for ${inputSchema ? 'input' : 'a resume'} until ${opened.timeout_at}`;
  const r = await client.store.setFlowRunState(
    id,
    { type: 'PAUSED', name: kind === 'pause' ? StateNames.Paused : StateNames.Suspended, message },
    { eventDetails: details },
  );
  if (!r.accepted) {
    if (r.state.type === 'CANCELLING' || r.state.type === 'CANCELLED') throw new CancelledError('the run was cancelled before it paused');
    throw new Error(`flow run ${id} could not pause: ${r.reason}`);
  }
  if (kind === 'suspend') throw new FlowSuspended(id);
  return answer(await waitForResume(client, scope, opened), schema, timeoutSeconds);
}

async function waitForResume(client: EngineClient, scope: FlowScope, wait: FlowRunWait): Promise<FlowRunWait> {
  const deadline = Date.parse(wait.timeout_at ?? '') || Infinity;
  for (;;) {
    const current = await client.waits.get(wait.flow_run_id, wait.wait_key);
    if (current?.resolved_at) return current;
    if (Date.now() >= deadline) {
      // Only one of the timeout and a resume wins; when the resume did, take its answer.
      const timedOut = await client.waits.resolve(wait.flow_run_id, wait.wait_key, 'timed_out', null);
      if (timedOut) return timedOut;
      continue;
    }
    // Rejects with CancelledError when the run is cancelled while it waits.
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), scope.signal);
  }
}

function answer<S extends z.ZodType | undefined>(wait: FlowRunWait, schema: S | undefined, timeoutSeconds: number): ResumeInput<S> {
  if (wait.outcome === 'timed_out') {
    throw new NonRetriableError(`the flow run ${wait.kind === 'pause' ? 'paused' : 'suspended'} for input, and nobody resumed it within ${timeoutSeconds} s`);
  }
  if (!schema) return undefined as ResumeInput<S>;
  // The API checked the input against the JSON Schema; zod parses it again for its defaults and transforms.
  const parsed = schema.safeParse(wait.result ?? {});
  if (!parsed.success) throw new ValidationError('resume input does not match the flow\'s input schema', toFieldIssues(parsed.error.issues, ['input']));
  return parsed.data as ResumeInput<S>;
}

/** The input's JSON Schema, without `$schema`: the API's validator (ajv, draft-07 vocabulary) compiles the rest. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}
