import { ENGINE_EVENT_PREFIX, EventFamilies, idOfResource, Roles } from '../../core/names.ts';
import type { ReflexEvent } from '../../schemas/event.ts';

/**
 * What the dashboard's live stream tells pages: not the events themselves but which things changed, as
 * topics. A page listens to the kinds it shows and refetches them; a topic with an id (`flow-run:<id>`)
 * lets a detail page ignore changes to other runs. Pure, so the mapping is unit-tested.
 */
export const LiveKind = {
  flowRuns: 'flow-runs',
  flowRun: 'flow-run',
  events: 'events',
  automations: 'automations',
  automation: 'automation',
  deliveries: 'deliveries',
  delivery: 'delivery',
  deployments: 'deployments',
} as const;
export type LiveKind = (typeof LiveKind)[keyof typeof LiveKind];
export const LIVE_KINDS = Object.values(LiveKind) as [LiveKind, ...LiveKind[]];

const EVENTS_ONLY: readonly string[] = [LiveKind.events];

/**
 * The topics of a message, from its event name (the subject) first: only Reflex's own events are about
 * something the dashboard shows, so only they are decoded. A busy stream of business events costs the
 * API one string test per message, not a JSON parse.
 */
export function topicsOfMessage(eventName: string, decode: () => ReflexEvent): readonly string[] {
  return eventName.startsWith(ENGINE_EVENT_PREFIX) ? topicsOf(decode()) : EVENTS_ONLY;
}

/** The topics an event touches: always `events`, plus the runs, automations and deliveries it is about. */
export function topicsOf(event: ReflexEvent): string[] {
  const topics: string[] = [LiveKind.events];
  const resource = event.resource['reflex.resource.id'] ?? '';
  const related = (role: string) => event.related.find((r) => r['reflex.resource.role'] === role)?.['reflex.resource.id'] ?? '';
  const withId = (kind: LiveKind, id: string | null) => {
    if (id) topics.push(`${kind}:${id}`);
  };
  if (event.event.startsWith(EventFamilies.flowRun)) {
    topics.push(LiveKind.flowRuns, LiveKind.deployments);
    withId(LiveKind.flowRun, idOfResource('flow-run', resource));
  } else if (event.event.startsWith(EventFamilies.taskRun)) {
    withId(LiveKind.flowRun, idOfResource('flow-run', related(Roles.flowRun)));
  } else if (event.event.startsWith(EventFamilies.automation)) {
    topics.push(LiveKind.automations);
    withId(LiveKind.automation, idOfResource('automation', resource));
  } else if (event.event.startsWith(EventFamilies.webhookDelivery)) {
    topics.push(LiveKind.deliveries);
    withId(LiveKind.delivery, idOfResource('webhook-delivery', resource));
  }
  return topics;
}

/** Whether a client that asked for these kinds wants a topic (`flow-run:<id>` is of kind `flow-run`). */
export function wanted(kinds: ReadonlySet<string>, topic: string): boolean {
  const colon = topic.indexOf(':');
  return kinds.has(colon < 0 ? topic : topic.slice(0, colon));
}
