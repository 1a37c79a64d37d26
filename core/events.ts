import { uuidv7 } from 'uuidv7';
import { z } from 'zod';
import { EventInputSchema, type EventInput, type ReflexEvent } from '../schemas/event.ts';
import { formatPath, PayloadTooLargeError, toFieldIssues, ValidationError, type FieldIssue } from './errors.ts';

export const MAX_BATCH = 1000;

const BatchSchema = z.array(z.unknown()).min(1, 'at least one event is required').max(MAX_BATCH, `at most ${MAX_BATCH} events per request`);

/**
 * Validates one event or a batch and fills in `id` (UUID v7) and `occurred` (now). The whole batch is
 * checked before anything is returned, so a caller publishes all of it or none of it.
 */
export function normalizeEvents(input: unknown, options: { maxPayloadBytes: number; now?: Date }): ReflexEvent[] {
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
    const size = Buffer.byteLength(JSON.stringify(e.payload));
    if (size > options.maxPayloadBytes) {
      tooLarge.push({
        path: formatPath([...prefix, 'payload']),
        message: `payload is ${size} bytes; the limit is ${options.maxPayloadBytes} (REFLEX_MAX_PAYLOAD_BYTES)`,
      });
      return;
    }
    const event: ReflexEvent = {
      id: e.id ?? uuidv7(),
      occurred: e.occurred ? new Date(e.occurred).toISOString() : now,
      event: e.event,
      resource: e.resource,
      related: e.related,
      payload: e.payload,
    };
    if (e.follows) event.follows = e.follows;
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
