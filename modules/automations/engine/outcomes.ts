import { LiquidError } from 'liquidjs';
import { ZodError } from 'zod';
import { describeIssues, toFieldIssues } from '../../../core/errors.ts';
import { systemEvent } from '../../../core/events.ts';
import { deterministicUuid } from '../../../core/ids.ts';
import { EventNames, Roles } from '../../../core/names.ts';
import type { ReflexEvent } from '../../../schemas/event.ts';
import type { FlowRun } from '../../../schemas/flow-run.ts';
import { ActionFailure, inferId, performAction, type ActionDeps, type Outcome } from './actions.ts';
import { actionJobId, automationResource, causedRelated, type ActionJobData, type FiringWrite } from './firing.ts';
import type { TemplateContext } from './render.ts';

/**
 * Performs one action of a firing and answers what to record: its outcome, and its
 * `reflex.automation.action.executed` / `.failed` event. Throws only for infrastructure errors (worth a
 * retry); everything the user can fix (templates, targets, refused commands) is a failed outcome.
 * `flowRun` reads the run a flow-run event is about, for the `flow_run` template variable.
 */
export async function executeAction(
  deps: ActionDeps,
  data: ActionJobData,
  flowRun: ((id: string) => Promise<FlowRun | null>) | null,
): Promise<{ write: FiringWrite; event: ReflexEvent; outcome: Outcome }> {
  const ctx = await templateContext(data, flowRun);
  let outcome: Outcome;
  try {
    outcome = await performAction(deps, data, ctx);
  } catch (err) {
    const reason = failureReason(err);
    if (reason === null) throw err;
    outcome = { status: 'failed', reason, detail: {} };
  }
  const related = causedRelated(data.automation.id, data.firing.triggering_event);
  if (outcome.target) related.unshift({ 'reflex.resource.id': outcome.target, 'reflex.resource.role': Roles.target });
  return {
    outcome,
    write: {
      firing: data.firing,
      actionTypes: data.action_types ?? [data.action.type],
      outcome: { index: data.index, type: data.action.type, status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}), detail: outcome.detail },
    },
    event: systemEvent(EventNames.automationAction(outcome.status), automationResource(data.automation), {
      id: deterministicUuid(`${actionJobId(data.firing.id, data.index)}/outcome`),
      related,
      payload: {
        firing_id: data.firing.id,
        action_index: data.index,
        action_type: data.action.type,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        ...outcome.detail,
      },
    }),
  };
}

/** A reason for failures the user can fix; null for infrastructure errors (retried). */
export function failureReason(err: unknown): string | null {
  if (err instanceof ActionFailure) return err.message;
  if (err instanceof LiquidError) return `template error: ${err.message}`;
  if (err instanceof ZodError) return `invalid action result: ${describeIssues(toFieldIssues(err.issues))}`;
  return null;
}

/** `event`, `automation`, `trigger`, `labels`, `firing` and (for flow-run events) `flow_run`, the run as the API shows it. */
export async function templateContext(data: ActionJobData, flowRun: ((id: string) => Promise<FlowRun | null>) | null): Promise<TemplateContext> {
  const f = data.firing;
  const flowRunId = inferId('flow-run', data);
  return {
    event: f.triggering_event,
    // Every event of a debounce window or batch (flow control); otherwise just the triggering one.
    events: f.events ?? (f.triggering_event ? [f.triggering_event] : []),
    flow_control: f.flow_control ?? null,
    automation: data.automation,
    labels: f.triggering_labels,
    firing: { id: f.id, state: f.state, fired_at: f.fired_at },
    trigger: {
      path: f.trigger_path,
      key: f.bucket_key,
      labels: f.triggering_labels,
      count: f.count,
      window: { start: f.window_start, end: f.window_end },
      state: f.state,
    },
    flow_run: flowRun && flowRunId ? await flowRun(flowRunId) : null,
  };
}
