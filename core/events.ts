import { newId } from './ids.ts';
import { z } from 'zod';
import { EVENT_LIMITS, EVENT_NAME_PATTERN, EventInputSchema, EventNameSchema, type EventInput, type ReflexEvent } from '../schemas/event.ts';
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

/** One normalised event and its bus encoding: exactly `JSON.stringify(event)`, the bytes published and measured. */
export interface EncodedEvent {
  event: ReflexEvent;
  json: string;
}

export interface NormalizeOptions {
  maxPayloadBytes: number;
  maxEventBytes?: number;
  now?: Date;
  /**
   * The input already passed `jsonValueIssues` whole (the API's JSON body parser checks every body), so
   * the per-event walk for what PostgreSQL cannot store would find nothing: skipped.
   */
  jsonChecked?: boolean;
}

/**
 * Validates one event or a batch and fills in `id` (UUID v7) and `occurred` (now). The whole batch is
 * checked before anything is returned, so a caller publishes all of it or none of it.
 */
export function normalizeEvents(input: unknown, options: NormalizeOptions): ReflexEvent[] {
  return normalizeEncodedEvents(input, options).map((e) => e.event);
}

/**
 * normalizeEvents, keeping each event's encoding: ingest publishes that text as it is, so an event is
 * serialised once (it was three times: the payload's size, the event's size, the bus message).
 */
export function normalizeEncodedEvents(input: unknown, options: NormalizeOptions): EncodedEvent[] {
  const isBatch = Array.isArray(input);
  const items: unknown[] = isBatch ? (input as unknown[]) : [input];
  if (isBatch) {
    const batch = BatchSchema.safeParse(items);
    if (!batch.success) throw new ValidationError(batch.error.issues[0]?.message ?? 'invalid batch', toFieldIssues(batch.error.issues));
  }
  let now: string | undefined;
  const issues: FieldIssue[] = [];
  const tooLarge: FieldIssue[] = [];
  const events: EncodedEvent[] = [];
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    const prefix = isBatch ? [index] : [];
    // The common well-formed event is read directly; anything unusual, and every invalid event, goes
    // through zod, which decides and words the issues as before.
    let e = quickEventInput(item);
    if (!e) {
      const parsed = EventInputSchema.safeParse(item);
      if (!parsed.success) {
        issues.push(...toFieldIssues(parsed.error.issues, prefix));
        continue;
      }
      e = parsed.data;
    }
    // What PostgreSQL cannot store would be acknowledged now and refused by the recorder later.
    if (!options.jsonChecked) {
      const storable = jsonValueIssues({ resource: e.resource, related: e.related, payload: e.payload }, { prefix });
      if (storable.length > 0) {
        issues.push(...storable);
        continue;
      }
    }
    const occurred = e.occurred ? new Date(e.occurred) : null;
    if (occurred && !storableTime(occurred)) {
      issues.push({ path: formatPath([...prefix, 'occurred']), message: 'must be between years 0001 and 9999 once converted to UTC' });
      continue;
    }
    const event: ReflexEvent = {
      id: e.id ? e.id.toLowerCase() : newId(),
      occurred: occurred ? occurred.toISOString() : (now ??= (options.now ?? new Date()).toISOString()),
      event: e.event,
      resource: e.resource,
      related: e.related,
      payload: e.payload,
    };
    if (e.follows) event.follows = e.follows.toLowerCase();
    const json = JSON.stringify(event);
    const encoded = Buffer.byteLength(json);
    // The payload is part of the event, so it is measured on its own only when the whole is over its limit.
    if (encoded > options.maxPayloadBytes) {
      const size = Buffer.byteLength(JSON.stringify(e.payload));
      if (size > options.maxPayloadBytes) {
        tooLarge.push({
          path: formatPath([...prefix, 'payload']),
          message: `payload is ${size} bytes; the limit is ${options.maxPayloadBytes} (REFLEX_MAX_PAYLOAD_BYTES)`,
        });
        continue;
      }
    }
    // The whole event must fit one bus message, or a batch would be published in part.
    if (encoded > maxEventBytes) {
      tooLarge.push({ path: formatPath(prefix) || '(root)', message: `the event is ${encoded} bytes encoded; the limit is ${maxEventBytes} (labels, related resources and payload together)` });
      continue;
    }
    events.push({ event, json });
  }
  if (issues.length > 0) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    throw new ValidationError(`invalid event: ${first.path || '(root)'}: ${first.message}${more}`, issues);
  }
  if (tooLarge.length > 0) throw new PayloadTooLargeError(tooLarge[0].message, tooLarge);
  return events;
}

type ParsedEventInput = z.output<typeof EventInputSchema>;

const INPUT_KEYS = new Set(Object.keys(EventInputSchema.shape));
const { id: IdSchema, occurred: OccurredSchema, follows: FollowsSchema } = EventInputSchema.shape;
const NAME_MAX = EventNameSchema.maxLength ?? 256;
const NAME_MIN = EventNameSchema.minLength ?? 1;

/** A plain object (what JSON.parse makes) without symbol keys or an own `__proto__` (zod strips that one). */
function plainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(v, '__proto__') && Object.getOwnPropertySymbols(v).length === 0;
}

/** A shallow copy of labels EventInputSchema accepts (string values within EVENT_LIMITS, a resource id, a role), or undefined. */
function quickLabels(v: unknown, role: boolean): Record<string, string> | undefined {
  if (!plainObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length > EVENT_LIMITS.maxLabels) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys) {
    const value = v[k];
    if (k.length === 0 || k.length > EVENT_LIMITS.maxLabelNameLength || typeof value !== 'string' || value.length > EVENT_LIMITS.maxLabelValueLength) return undefined;
    out[k] = value;
  }
  if (!out['reflex.resource.id'] || (role && !out['reflex.resource.role'])) return undefined;
  return out;
}

/**
 * EventInputSchema's result for an input it certainly accepts, read without zod (which costs more than
 * the rest of ingest's checks together), or undefined: then zod parses it. It accepts a subset of what
 * zod does and answers what zod would (tests/backbone.ingest-normalize.test.ts compares the two).
 */
export function quickEventInput(item: unknown): ParsedEventInput | undefined {
  if (!plainObject(item)) return undefined;
  for (const k of Object.keys(item)) if (!INPUT_KEYS.has(k)) return undefined;
  const { id, occurred, event, resource, related, payload, follows } = item;
  if (typeof event !== 'string' || event.length < NAME_MIN || event.length > NAME_MAX || !EVENT_NAME_PATTERN.test(event)) return undefined;
  if (id !== undefined && (typeof id !== 'string' || !IdSchema.safeParse(id).success)) return undefined;
  if (occurred !== undefined && (typeof occurred !== 'string' || !OccurredSchema.safeParse(occurred).success)) return undefined;
  if (follows !== undefined && follows !== null && (typeof follows !== 'string' || !FollowsSchema.safeParse(follows).success)) return undefined;
  const res = quickLabels(resource, false);
  if (!res) return undefined;
  let rel: Record<string, string>[] = [];
  if (related !== undefined) {
    if (!Array.isArray(related) || related.length > EVENT_LIMITS.maxRelated) return undefined;
    rel = new Array<Record<string, string>>(related.length);
    for (let i = 0; i < related.length; i++) {
      const r = quickLabels(related[i], true);
      if (!r) return undefined;
      rel[i] = r;
    }
  }
  let pay: Record<string, unknown> = {};
  if (payload !== undefined) {
    if (!plainObject(payload)) return undefined;
    pay = { ...payload };
  }
  const out: ParsedEventInput = { event, resource: res, related: rel, payload: pay };
  // As zod does: a field given as undefined stays in the result, one left out does not.
  if ('id' in item) out.id = id as string | undefined;
  if ('occurred' in item) out.occurred = occurred as string | undefined;
  if ('follows' in item) out.follows = follows as string | null | undefined;
  return out;
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
    id: options.id ?? newId(),
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
