import { uuidv7 } from 'uuidv7';
import { z } from 'zod';
import { EventInputSchema, type EventInput, type ReflexEvent } from '../schemas/event.ts';
import { formatPath, PayloadTooLargeError, toFieldIssues, ValidationError, type FieldIssue } from './errors.ts';
import { jsonValueIssues } from './json.ts';
import { Roles } from './names.ts';

export const MAX_BATCH = 1000;
/**
 * The largest event as encoded on the bus when the bus does not say (NATS's default `max_payload` is
 * 1 MiB; the margin leaves room for message headers).
 */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024 - 4096;

const BatchSchema = z.array(z.unknown()).min(1, 'at least one event is required').max(MAX_BATCH, `at most ${MAX_BATCH} events per request`);

/**
 * Validates one event or a batch and fills in `id` (UUID v7) and `occurred` (now). The whole batch is
 * checked before anything is returned, so a caller publishes all of it or none of it.
 */
export function normalizeEvents(input: unknown, options: { maxPayloadBytes: number; maxEventBytes?: number; now?: Date }): ReflexEvent[] {
  const isBatch = Array.isArray(input);
  const items: unknown[] = isBatch ? (input as unknown[]) : [input];
  if (isBatch) {
    const batch = BatchSchema.safeParse(items);
    if (!batch.success) throw new ValidationError(batch.error.issues[0]?.message ?? 'invalid batch', toFieldIssues(batch.error.issues));
  }
  const now = (options.now ?? new Date()).toISOString();
  const issues: FieldIssue[] = [];
  const tooLarge: FieldIssue[] = [];
  const events: ReflexEvent[] = [];
  items.forEach((item, index) => {
    const prefix = isBatch ? [index] : [];
    const parsed = EventInputSchema.safeParse(item);
    if (!parsed.success) {
      issues.push(...toFieldIssues(parsed.error.issues, prefix));
      return;
    }
    const e = parsed.data;
    // What PostgreSQL cannot store would be acknowledged now and refused by the recorder later.
    const storable = jsonValueIssues({ resource: e.resource, related: e.related, payload: e.payload }, { prefix });
    if (storable.length > 0) {
      issues.push(...storable);
      return;
    }
    const occurred = e.occurred ? new Date(e.occurred) : null;
    if (occurred && !storableTime(occurred)) {
      issues.push({ path: formatPath([...prefix, 'occurred']), message: 'must be between years 0001 and 9999 once converted to UTC' });
      return;
    }
    const size = Buffer.byteLength(JSON.stringify(e.payload));
    if (size > options.maxPayloadBytes) {
      tooLarge.push({
        path: formatPath([...prefix, 'payload']),
        message: `payload is ${size} bytes; the limit is ${options.maxPayloadBytes} (REFLEX_MAX_PAYLOAD_BYTES)`,
      });
      return;
    }
    const event: ReflexEvent = {
      id: e.id ? e.id.toLowerCase() : uuidv7(),
      occurred: occurred ? occurred.toISOString() : now,
      event: e.event,
      resource: e.resource,
      related: e.related,
      payload: e.payload,
    };
    if (e.follows) event.follows = e.follows.toLowerCase();
    // The whole event must fit one bus message, or a batch would be published in part.
    const encoded = Buffer.byteLength(JSON.stringify(event));
    const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    if (encoded > maxEventBytes) {
      tooLarge.push({ path: formatPath(prefix) || '(root)', message: `the event is ${encoded} bytes encoded; the limit is ${maxEventBytes} (labels, related resources and payload together)` });
      return;
    }
    events.push(event);
  });
  if (issues.length > 0) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    throw new ValidationError(`invalid event: ${first.path || '(root)'}: ${first.message}${more}`, issues);
  }
  if (tooLarge.length > 0) throw new PayloadTooLargeError(tooLarge[0].message, tooLarge);
  return events;
}

/**
 * A cheap structural check of a message read from the stream: events published through Reflex are
 * already normalised, but any NATS client can publish on the subjects, and one malformed message must not
 * make a consumer throw on every redelivery. The recorder keeps such messages as dead letters.
 */
export function isEventShape(value: unknown): value is ReflexEvent {
  if (value === null || typeof value !== 'object') return false;
  const e = value as Record<string, unknown>;
  if (typeof e.id !== 'string' || typeof e.event !== 'string' || typeof e.occurred !== 'string' || Number.isNaN(Date.parse(e.occurred))) return false;
  const labels = (r: unknown) => r !== null && typeof r === 'object' && !Array.isArray(r) && typeof (r as Record<string, unknown>)['reflex.resource.id'] === 'string';
  if (!labels(e.resource) || !Array.isArray(e.related) || !e.related.every(labels)) return false;
  return e.payload !== null && typeof e.payload === 'object' && !Array.isArray(e.payload);
}

/** The resource ids of the automations in an event's causal chain (related resources of role automation-chain). */
export function chainOf(event: Pick<ReflexEvent, 'related'>): string[] {
  const out: string[] = [];
  for (const r of event.related) if (r['reflex.resource.role'] === Roles.automationChain) out.push(r['reflex.resource.id']);
  return out;
}

/** The related resources recording a causal chain (automation resource ids). */
export function chainRelated(chain: Iterable<string>): Record<string, string>[] {
  return [...new Set(chain)].map((id) => ({ 'reflex.resource.id': id, 'reflex.resource.role': Roles.automationChain }));
}

/** PostgreSQL's timestamptz takes years 4713 BC to 294276 AD, but ISO text past 9999 is not portable. */
function storableTime(d: Date): boolean {
  const year = d.getUTCFullYear();
  return Number.isFinite(d.getTime()) && year >= 1 && year <= 9999;
}

/** Builds an event the engine emits about itself (automation firings, run states, deliveries). */
export function systemEvent(
  event: string,
  resource: Record<string, string>,
  options: { related?: Record<string, string>[]; payload?: Record<string, unknown>; id?: string; occurred?: string; follows?: string } = {},
): ReflexEvent {
  const e: ReflexEvent = {
    id: options.id ?? uuidv7(),
    occurred: options.occurred ?? new Date().toISOString(),
    event,
    resource,
    related: options.related ?? [],
    payload: options.payload ?? {},
  };
  if (options.follows) e.follows = options.follows;
  return e;
}

export type { EventInput };
