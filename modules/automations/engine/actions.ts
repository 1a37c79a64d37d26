import { describeIssues, toFieldIssues } from '../../../core/errors.ts';
import { hasMarkers, maskMarkers, newSecretNonce, secretMarker } from '../../../core/secret-refs.ts';
import { ActionFailure } from './actions-failure.ts';
import { notificationDelivery } from './notifications.ts';
import { NoSecrets, SecretMarkers, VariableValues } from './template-drops.ts';
import { chainOf, normalizeEvents } from '../../../core/events.ts';
import { deterministicUuid, isUuid } from '../../../core/ids.ts';
import { resourceId, Roles, type ResourceKind } from '../../../core/names.ts';
import type { Action, SecretRef } from '../../../schemas/automation.ts';
import type { ReflexEvent } from '../../../schemas/event.ts';
import { FlowRunCommandJobSchema, WebhookDeliveryJobSchema, type ActionJobData, type FlowRunCommandJob, type WebhookDeliveryJob } from '../../../schemas/jobs.ts';
import { actionJobId, causedRelated } from './firing.ts';
import { renderString, renderValue, type TemplateContext } from './render.ts';

/**
 * Performs one action of a firing, through ports (ActionDeps): the automations service passes the real
 * side effects (the webhook queue, the runs module's commands, the bus), a dry run records them. A webhook
 * is rendered here and handed over as a job with the firing's idempotency key; flow-run commands are
 * idempotent on the same key. An expected failure (template error, nothing to infer, target missing,
 * command refused) is an outcome, not an exception.
 */

export type Outcome = { status: 'executed' | 'failed'; reason?: string; detail: Record<string, unknown>; target?: string };

export { ActionFailure };

/** The side effects an action may have; the service performs them, a dry run only records them. */
export interface ActionDeps {
  /** Hands a delivery to the webhook service's queue (job id: its idempotency key); answers the queue's name. */
  deliver(data: WebhookDeliveryJob): Promise<string>;
  /**
   * Executes a flow-run command; answers what it did. One that cannot succeed throws ActionFailure with
   * the reason; an outage throws anything else (the action job is retried).
   */
  command(data: FlowRunCommandJob): Promise<Record<string, unknown>>;
  publish(event: ReflexEvent): Promise<void>;
  /** Sets an automation's enabled flag; false when it does not exist. */
  setEnabled(automationId: string, enabled: boolean): Promise<boolean>;
  maxPayloadBytes: number;
  /** Reads a variable for `{{ variables.NAME }}` (a short cache in the service); absent: variables read as nil. */
  variable?(name: string): Promise<unknown>;
  /** Where notifications link runs to (`<publicUrl>/runs/<id>`, the dashboard's run page). */
  publicUrl?: string;
}

/** The resources of the triggering event, primary first (Prefect's inference order). */
function resourcesOf(event: ReflexEvent | null): string[] {
  if (!event) return [];
  return [event.resource['reflex.resource.id'], ...event.related.filter((r) => r['reflex.resource.role'] !== Roles.automationChain).map((r) => r['reflex.resource.id'])];
}

/** Finds `reflex.<kind>.<uuid>` in the triggering labels, then in the event's resources. */
export function inferId(kind: ResourceKind, job: Pick<ActionJobData, 'firing'>): string | null {
  const prefix = resourceId(kind, '');
  const candidates = [job.firing.triggering_labels['reflex.resource.id'] ?? '', ...resourcesOf(job.firing.triggering_event)];
  for (const c of candidates) {
    const id = c.startsWith(prefix) ? c.slice(prefix.length) : '';
    if (isUuid(id)) return id;
  }
  return null;
}

export async function performAction(deps: ActionDeps, job: ActionJobData, base: TemplateContext): Promise<Outcome> {
  const { action, firing, automation } = job;
  const ctx: TemplateContext = { ...base, variables: new VariableValues(deps.variable), secrets: new NoSecrets() };
  // Webhooks and notifications see secrets as markers of their own nonce (core/secret-refs.ts).
  const nonce = newSecretNonce();
  const sctx: TemplateContext = { ...ctx, secrets: new SecretMarkers(nonce) };
  const valueOf = async (v: string | SecretRef) => (typeof v === 'string' ? renderString(v, sctx) : secretMarker(v.secret, nonce));
  const key = actionJobId(firing.id, job.index);
  const triggered_by = { automation_id: automation.id, firing_id: firing.id, event_id: firing.triggering_event?.id ?? null };
  const deliver = async (data: WebhookDeliveryJob): Promise<Outcome> => {
    const name = await deps.deliver(data);
    return { status: 'executed', detail: { forwarded_to: name, job_id: key, job: redact(data) } };
  };
  const command = async (data: FlowRunCommandJob, target?: string): Promise<Outcome> => {
    const result = await deps.command(data);
    const run = typeof result.flow_run_id === 'string' ? resourceId('flow-run', result.flow_run_id) : undefined;
    return { status: 'executed', detail: { command: data, result }, target: run ?? target };
  };
  const a: Action = action;
  switch (a.type) {
    case 'do-nothing':
      return { status: 'executed', detail: {} };
    case 'run-deployment': {
      const parameters = (await renderValue(a.parameters, ctx)) as Record<string, unknown>;
      const concurrencyKey = a.concurrency_key === undefined ? undefined : (await renderString(a.concurrency_key, ctx)).trim();
      if (concurrencyKey !== undefined && concurrencyKey.length > 512) throw new ActionFailure(`concurrency_key renders to ${concurrencyKey.length} characters (at most 512)`);
      const data = FlowRunCommandJobSchema.parse({
        type: 'run-deployment',
        idempotency_key: key,
        deployment_id: a.deployment_id,
        deployment_name: a.deployment_name,
        parameters,
        tags: a.tags,
        triggered_by,
        priority: a.priority,
        concurrency_key: concurrencyKey,
      });
      const out = await command(data, a.deployment_id ? resourceId('deployment', a.deployment_id) : undefined);
      return { ...out, detail: { ...out.detail, parameters, deployment: a.deployment_id ?? a.deployment_name } };
    }
    case 'pause-deployment':
    case 'resume-deployment': {
      const deployment_id = a.deployment_id ?? (a.deployment_name ? undefined : inferId('deployment', job) ?? undefined);
      if (!deployment_id && !a.deployment_name) throw new ActionFailure('no deployment could be inferred from the triggering event');
      const data = FlowRunCommandJobSchema.parse({ type: a.type, idempotency_key: key, deployment_id, deployment_name: a.deployment_name, triggered_by });
      return command(data, deployment_id ? resourceId('deployment', deployment_id) : undefined);
    }
    case 'cancel-flow-run':
    case 'change-flow-run-state': {
      const flow_run_id = inferId('flow-run', job);
      if (!flow_run_id) throw new ActionFailure('no flow run could be inferred: the triggering event is not about reflex.flow-run.<id>');
      const message = a.type === 'cancel-flow-run' ? (a.message ?? `Cancelled by automation ${automation.name}`) : undefined;
      const data =
        a.type === 'cancel-flow-run'
          ? FlowRunCommandJobSchema.parse({ type: a.type, idempotency_key: key, flow_run_id, message, triggered_by })
          : FlowRunCommandJobSchema.parse({
              type: a.type,
              idempotency_key: key,
              flow_run_id,
              state: { ...a.state, message: a.state.message ?? `State changed by automation ${automation.name}` },
              force: a.force,
              triggered_by,
            });
      return command(data, resourceId('flow-run', flow_run_id));
    }
    case 'call-webhook': {
      const url = (await valueOf(a.url)).trim();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(a.headers)) headers[k] = await valueOf(v);
      const body = a.body !== undefined ? await renderString(a.body, sctx) : defaultBody(job, a.format);
      const secret = a.secret === undefined ? undefined : await valueOf(a.secret);
      const marked = [url, body, secret ?? '', ...Object.values(headers)].some(hasMarkers);
      const parsed = WebhookDeliveryJobSchema.safeParse({
        delivery_id: deterministicUuid(`${key}/delivery`),
        idempotency_key: key,
        url,
        method: a.method,
        headers,
        body,
        secret,
        secret_refs: marked ? { nonce, body_encoding: 'raw' } : undefined,
        timeout_seconds: a.timeout_seconds,
        retry: a.retry,
        format: a.format,
        automation_id: automation.id,
        firing_id: firing.id,
        event_id: firing.triggering_event?.id ?? null,
        chain: chainOf({ related: causedRelated(automation.id, firing.triggering_event) }),
      });
      if (!parsed.success) throw new ActionFailure(`rendered webhook is invalid: ${describeIssues(toFieldIssues(parsed.error.issues))}`);
      const out = await deliver(parsed.data);
      return { ...out, detail: { ...out.detail, url: maskMarkers(url), method: a.method, delivery_id: parsed.data.delivery_id } };
    }
    case 'send-notification': {
      const rendered = await notificationDelivery(a, job, sctx, { nonce, valueOf, publicUrl: deps.publicUrl ?? '' });
      const parsed = WebhookDeliveryJobSchema.safeParse({
        delivery_id: deterministicUuid(`${key}/delivery`),
        idempotency_key: key,
        ...rendered,
        timeout_seconds: a.timeout_seconds,
        retry: a.retry,
        format: 'json',
        automation_id: automation.id,
        firing_id: firing.id,
        event_id: firing.triggering_event?.id ?? null,
        chain: chainOf({ related: causedRelated(automation.id, firing.triggering_event) }),
      });
      if (!parsed.success) throw new ActionFailure(`rendered notification is invalid: ${describeIssues(toFieldIssues(parsed.error.issues))}`);
      const out = await deliver(parsed.data);
      return { ...out, detail: { ...out.detail, destination: a.destination.type, url: maskMarkers(parsed.data.url), delivery_id: parsed.data.delivery_id } };
    }
    case 'emit-event': {
      const rendered = (await renderValue(a.event, ctx)) as { event: string; resource: Record<string, string>; related: Record<string, string>[]; payload: Record<string, unknown> };
      const related = [...rendered.related.map(stringValues), ...causedRelated(automation.id, firing.triggering_event)];
      let event: ReflexEvent;
      try {
        [event] = normalizeEvents(
          { id: deterministicUuid(`${key}/emitted`), event: rendered.event, resource: stringValues(rendered.resource), related, payload: rendered.payload },
          { maxPayloadBytes: deps.maxPayloadBytes },
        );
      } catch (err) {
        throw new ActionFailure(`rendered event is invalid: ${(err as Error).message}`);
      }
      await deps.publish(event);
      return { status: 'executed', detail: { emitted_event: event.id, event }, target: resourceId('event', event.id) };
    }
    case 'pause-automation':
    case 'resume-automation': {
      const target = a.automation_id ?? inferId('automation', job) ?? automation.id;
      const enabled = a.type === 'resume-automation';
      if (!(await deps.setEnabled(target, enabled))) throw new ActionFailure(`automation ${target} does not exist`);
      return { status: 'executed', detail: { automation_id: target, enabled }, target: resourceId('automation', target) };
    }
    default: {
      const never: never = a;
      throw new ActionFailure(`unknown action ${JSON.stringify(never)}`);
    }
  }
}

/** A delivery as recorded in an outcome or shown by a dry run: never with the signing secret. */
export function redact(data: WebhookDeliveryJob): Record<string, unknown> {
  const { secret, secret_refs, ...rest } = data;
  const masked = {
    ...rest,
    url: maskMarkers(rest.url),
    headers: Object.fromEntries(Object.entries(rest.headers).map(([k, v]) => [k, maskMarkers(v)])),
    body: maskMarkers(rest.body),
    ...(secret_refs ? { uses_secrets: true } : {}),
  };
  return secret ? { ...masked, signed: true } : masked;
}

function stringValues(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o ?? {})) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

/** Without a body template: the triggering event as JSON (as a CloudEvent in cloudevent format). */
function defaultBody(job: ActionJobData, format: 'json' | 'cloudevent'): string {
  const e = job.firing.triggering_event;
  if (!e) return JSON.stringify({ automation: job.automation, firing: { ...job.firing, triggering_event: null } });
  if (format === 'json') return JSON.stringify(e);
  return JSON.stringify({
    specversion: '1.0',
    id: e.id,
    source: 'reflex',
    type: e.event,
    subject: e.resource['reflex.resource.id'],
    time: e.occurred,
    datacontenttype: 'application/json',
    data: { resource: e.resource, related: e.related, payload: e.payload },
  });
}
