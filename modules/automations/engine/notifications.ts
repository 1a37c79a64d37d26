import { sha256Hex } from '../../../core/ids.ts';
import { hasMarkers } from '../../../core/secret-refs.ts';
import type { Action, NotificationDestination, SecretRef } from '../../../schemas/automation.ts';
import type { FlowRun } from '../../../schemas/flow-run.ts';
import type { ActionJobData } from './firing.ts';
import { renderString, type TemplateContext } from './render.ts';

/**
 * The send-notification action, rendered into a webhook delivery: the body each destination expects
 * (Slack Block Kit, a Teams Adaptive Card, a Discord embed, a PagerDuty Events API v2 event, or plain
 * JSON), with the destination's URL and keys as secret markers the webhook service fills in at send time.
 * Pure: the same firing renders the same body.
 */

type SendNotification = Extract<Action, { type: 'send-notification' }>;

export interface RenderedNotification {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  secret?: string;
  secret_refs?: { nonce: string; body_encoding: 'raw' | 'json' };
}

interface Content {
  title: string;
  message: string;
  link: string | null;
  run: FlowRun | null;
  resolved: boolean;
}

/**
 * The firing's bucket as a PagerDuty dedup key: the automation and its bucket (a trigger's firing and
 * its resolution share it). PagerDuty keeps at most 255 characters; a longer key is hashed.
 */
export function pagerDutyDedupKey(automationId: string, bucketKey: string): string {
  const key = `reflex-${automationId}${bucketKey ? `-${bucketKey}` : ''}`;
  return key.length <= 255 ? key : `reflex-${sha256Hex(key)}`;
}

async function content(a: SendNotification, job: ActionJobData, ctx: TemplateContext, publicUrl: string): Promise<Content> {
  const run = (ctx.flow_run as FlowRun | null | undefined) ?? null;
  const event = job.firing.triggering_event;
  const resolved = job.firing.state === 'resolved';
  const subject = run
    ? `Flow run ${run.name} of ${run.flow_name} is ${run.state.name}`
    : `${job.automation.name}: ${event ? `${event.event} on ${event.resource['reflex.resource.id']}` : 'fired'}`;
  const title = a.title !== undefined ? await renderString(a.title, ctx) : resolved ? `Resolved: ${subject}` : subject;
  const message =
    a.message !== undefined ? await renderString(a.message, ctx) : (run?.state.message ?? (event ? `Event ${event.event} (${event.id})` : `Automation ${job.automation.name}`));
  const base = publicUrl.replace(/\/+$/, '');
  return { title, message, link: run && base ? `${base}/runs/${run.id}` : null, run, resolved };
}

function defaultBody(d: NotificationDestination, c: Content, job: ActionJobData, marker: (r: SecretRef) => string, source: string): unknown {
  switch (d.type) {
    case 'slack':
      return {
        text: c.title,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: c.title.slice(0, 150) } },
          ...(c.message ? [{ type: 'section', text: { type: 'mrkdwn', text: c.message.slice(0, 3000) } }] : []),
          ...(c.run
            ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: `*State:* ${c.run.state.name}  *Flow:* ${c.run.flow_name}  *Run:* ${c.run.name}` }] }]
            : []),
          ...(c.link ? [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'View run' }, url: c.link }] }] : []),
        ],
      };
    case 'teams':
      return {
        type: 'message',
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.adaptive',
            content: {
              $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
              type: 'AdaptiveCard',
              version: '1.4',
              body: [
                { type: 'TextBlock', text: c.title, weight: 'Bolder', size: 'Medium', wrap: true },
                ...(c.message ? [{ type: 'TextBlock', text: c.message, wrap: true }] : []),
              ],
              actions: c.link ? [{ type: 'Action.OpenUrl', title: 'View run', url: c.link }] : [],
            },
          },
        ],
      };
    case 'discord':
      return {
        content: c.title.slice(0, 2000),
        embeds: [{ title: c.title.slice(0, 256), description: c.message.slice(0, 4096), ...(c.link ? { url: c.link } : {}), color: c.resolved ? 0x2eb67d : 0xe01e5a }],
      };
    case 'pagerduty': {
      const dedup_key = pagerDutyDedupKey(job.automation.id, job.firing.bucket_key);
      if (c.resolved) return { routing_key: marker(d.routing_key), event_action: 'resolve', dedup_key };
      return {
        routing_key: marker(d.routing_key),
        event_action: 'trigger',
        dedup_key,
        payload: {
          summary: c.title.slice(0, 1024),
          source,
          severity: d.severity,
          custom_details: { message: c.message, ...(c.run ? { flow_run_id: c.run.id, flow_name: c.run.flow_name, state: c.run.state.name } : {}), automation: job.automation.name },
        },
        ...(c.link ? { links: [{ href: c.link, text: 'View run' }] } : {}),
      };
    }
    case 'webhook':
      return {
        title: c.title,
        message: c.message,
        link: c.link,
        state: job.firing.state,
        automation: { id: job.automation.id, name: job.automation.name },
        flow_run: c.run ? { id: c.run.id, name: c.run.name, flow_name: c.run.flow_name, state: c.run.state } : null,
        event: job.firing.triggering_event,
      };
    default: {
      const never: never = d;
      return never;
    }
  }
}

export async function notificationDelivery(
  a: SendNotification,
  job: ActionJobData,
  ctx: TemplateContext,
  opts: { nonce: string; valueOf: (v: string | SecretRef) => Promise<string>; publicUrl: string },
): Promise<RenderedNotification> {
  const d = a.destination;
  const c = await content(a, job, ctx, opts.publicUrl);
  const marker = (r: SecretRef) => `[[reflex-secret:${r.secret}:${opts.nonce}]]`;
  const url = d.type === 'pagerduty' ? (await renderString(d.url, ctx)).trim() : (await opts.valueOf(d.url)).trim();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (d.type === 'webhook') for (const [k, v] of Object.entries(d.headers)) headers[k] = await opts.valueOf(v);
  const secret = d.type === 'webhook' && d.secret !== undefined ? await opts.valueOf(d.secret) : undefined;
  const source = d.type === 'pagerduty' ? await renderString(d.source, ctx) : '';
  const custom = a.body !== undefined;
  const body = custom ? await renderString(a.body!, ctx) : JSON.stringify(defaultBody(d, c, job, marker, source));
  const marked = [url, body, secret ?? '', ...Object.values(headers)].some(hasMarkers);
  return {
    url,
    method: 'POST',
    headers,
    body,
    ...(secret !== undefined ? { secret } : {}),
    // Our own JSON holds markers inside strings: fill them JSON-escaped. A custom body is the author's text.
    ...(marked ? { secret_refs: { nonce: opts.nonce, body_encoding: custom ? 'raw' : 'json' } } : {}),
  };
}
