import { z } from 'zod';

/** Dotted names whose every part is a valid NATS subject token (no spaces, `*`, `>` or empty parts). */
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

export const EventNameSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(EVENT_NAME_PATTERN, 'must be dot-separated words of letters, digits, "_" or "-" (e.g. order.created)')
  .describe('Dotted event name, e.g. `order.created` or `reflex.flow-run.Completed`.');

/** Bounds of one resource's labels and of the related list: a single event must fit one bus message. */
export const EVENT_LIMITS = { maxLabels: 64, maxLabelNameLength: 256, maxLabelValueLength: 4096, maxRelated: 128 } as const;

const LabelsSchema = z
  .record(z.string().min(1).max(EVENT_LIMITS.maxLabelNameLength), z.string().max(EVENT_LIMITS.maxLabelValueLength))
  .refine((r) => Object.keys(r).length <= EVENT_LIMITS.maxLabels, `at most ${EVENT_LIMITS.maxLabels} labels`);

export const ResourceSchema = LabelsSchema.refine((r) => typeof r['reflex.resource.id'] === 'string' && r['reflex.resource.id'] !== '', {
  message: 'reflex.resource.id is required and must be a non-empty string',
  path: ['reflex.resource.id'],
}).describe('String labels describing what the event is about; `reflex.resource.id` is required.');

export const RelatedResourceSchema = LabelsSchema.refine(
  (r) => typeof r['reflex.resource.id'] === 'string' && r['reflex.resource.id'] !== '',
  { message: 'reflex.resource.id is required and must be a non-empty string', path: ['reflex.resource.id'] },
)
  .refine((r) => typeof r['reflex.resource.role'] === 'string' && r['reflex.resource.role'] !== '', {
    message: 'reflex.resource.role is required and must be a non-empty string',
    path: ['reflex.resource.role'],
  })
  .describe('A resource related to the event, with its role in `reflex.resource.role`.');

/** An event as a client sends it: `id` and `occurred` may be left out. */
export const EventInputSchema = z
  .object({
    id: z.uuid().optional().describe('UUID; generated (v7) when absent. Supplying one makes emitting idempotent.'),
    occurred: z.iso.datetime({ offset: true }).optional().describe('ISO-8601 time the event happened; defaults to now.'),
    event: EventNameSchema,
    resource: ResourceSchema,
    related: z.array(RelatedResourceSchema).max(EVENT_LIMITS.maxRelated).default([]),
    payload: z.record(z.string(), z.unknown()).default({}).describe('Any JSON object.'),
    follows: z.uuid().nullish().describe('Id of the event this one follows.'),
  })
  .strict();

/** An event as stored and published: every field filled in. */
export const EventSchema = z
  .object({
    id: z.uuid(),
    occurred: z.iso.datetime({ offset: true }),
    event: EventNameSchema,
    resource: ResourceSchema,
    related: z.array(RelatedResourceSchema),
    payload: z.record(z.string(), z.unknown()),
    follows: z.uuid().nullable().optional(),
  })
  .describe('A Reflex event, exactly as published on NATS and stored in Postgres.');

export type Resource = Record<string, string>;
export type RelatedResource = Record<string, string>;
export type EventInput = z.input<typeof EventInputSchema>;
export interface ReflexEvent {
  id: string;
  occurred: string;
  event: string;
  resource: Resource;
  related: RelatedResource[];
  payload: Record<string, unknown>;
  follows?: string | null;
}

/** A stored event also carries when the recorder received it. */
export interface StoredEvent extends ReflexEvent {
  received: string;
}
