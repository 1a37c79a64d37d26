import { z } from 'zod';
import { EVENT_NAME_PATTERN, EventSchema } from './event.ts';

/** One string or a list of them; a single value is the common case on the wire. */
const oneOrMany = <T extends z.ZodType<string>>(item: T) =>
  z.union([item, z.array(item).min(1).max(100)]).transform((v): string[] => (Array.isArray(v) ? v : [v]));

/** `order.created` (exact), `order.*` (the name and everything under it) or `*` (every event). */
export const EventPatternSchema = z
  .string()
  .refine((p) => p === '*' || EVENT_NAME_PATTERN.test(p.endsWith('.*') ? p.slice(0, -2) : p), {
    message: 'must be an event name (order.created), a prefix ending in ".*" (order.*) or "*"',
  });

/** An exact resource id, or a prefix when it ends in `*` (`order-*`). */
const ResourceIdPatternSchema = z.string().min(1).max(512);

/**
 * Which stored events a query, a count or a live stream selects. Every field narrows the selection
 * (they are ANDed); a list inside one field matches any of its values (ORed).
 */
export const EventFilterFieldsSchema = z.object({
  occurred_after: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Only events that occurred at or after this time (inclusive).'),
  occurred_before: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Only events that occurred before this time (exclusive).'),
  event: oneOrMany(EventPatternSchema)
    .optional()
    .describe('Event names: exact (`order.created`), a prefix (`order.*` matches `order.<anything>`, as the NATS subject `order.>` does) or `*`.'),
  resource_id: oneOrMany(ResourceIdPatternSchema)
    .optional()
    .describe('`reflex.resource.id` of the resource: exact, or a prefix when it ends in `*`.'),
  related_id: oneOrMany(z.string().min(1).max(512))
    .optional()
    .describe('`reflex.resource.id` of one of the related resources (exact).'),
  labels: z
    .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1).max(100)]))
    .optional()
    .describe('Resource labels that must all match; a list of values matches any of them.'),
});

export type EventFilterFields = z.output<typeof EventFilterFieldsSchema>;

/** An opaque keyset cursor: the `next_cursor` of the previous page. */
const CursorSchema = z.string().min(1).max(200).describe('`next_cursor` of the previous page.');

export const EventFilterSchema = EventFilterFieldsSchema.extend({
  limit: z.number().int().min(1).max(500).default(100).describe('Page size, at most 500.'),
  cursor: CursorSchema.optional(),
})
  .strict()
  .describe('Selects stored events, newest first.');

export type EventFilter = z.output<typeof EventFilterSchema>;
export type EventFilterInput = z.input<typeof EventFilterSchema>;

export const COUNT_BY = ['event', 'resource', 'time'] as const;
export type CountBy = (typeof COUNT_BY)[number];

export const TIME_UNITS = ['second', 'minute', 'hour', 'day', 'week'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

export const CountByRequestSchema = EventFilterFieldsSchema.extend({
  by: z.enum(COUNT_BY).describe('Group by event name, by resource id, or by time bucket.'),
  interval: z.enum(TIME_UNITS).default('hour').describe('Bucket size unit when `by` is `time`.'),
  interval_count: z.number().int().min(1).max(1000).default(1).describe('Buckets span this many units (e.g. 15 with `minute`).'),
  limit: z.number().int().min(1).max(1000).default(100).describe('Most groups answered (the largest counts first; time buckets oldest first).'),
})
  .strict()
  .describe('Counts stored events per event name, resource or time bucket.');

export type CountByRequest = z.output<typeof CountByRequestSchema>;

export const CountItemSchema = z.object({
  value: z.string().describe('The event name, the resource id, or the bucket start time.'),
  count: z.number().int(),
  start_time: z.string().optional().describe('Bucket start (by time only).'),
  end_time: z.string().optional().describe('Bucket end, exclusive (by time only).'),
});

export const CountByResponseSchema = z.object({ items: z.array(CountItemSchema) });
export type CountItem = z.output<typeof CountItemSchema>;

/** An event as the query API answers it: the published event plus when the recorder stored it. */
export const StoredEventSchema = EventSchema.extend({
  received: z.iso.datetime({ offset: true }).describe('When the recorder stored the event.'),
}).describe('A stored Reflex event.');

export const EventPageSchema = z.object({ items: z.array(StoredEventSchema), next_cursor: z.string().nullable() });
