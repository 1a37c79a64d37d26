import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../core/errors.ts';
import { deterministicUuid, isUuid } from '../../core/ids.ts';

/**
 * CloudEvents 1.0 → Reflex event mapping (docs/events.md):
 *   type → event, id → id (when a UUID; otherwise a UUID derived from source + id, so a resent
 *   CloudEvent is still deduplicated, with the original in the `ce.id` label),
 *   source (+ "/" + subject when present) → resource `reflex.resource.id`, time → occurred,
 *   data → payload (non-object data is wrapped as `{ "data": ... }`), other string attributes → `ce.<name>` labels.
 */
const STRUCTURED = 'application/cloudevents+json';
const BATCH = 'application/cloudevents-batch+json';

const CloudEventSchema = z
  .object({
    specversion: z.literal('1.0', { message: 'specversion must be "1.0"' }),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.string().min(1),
    subject: z.string().optional(),
    time: z.string().optional(),
    datacontenttype: z.string().optional(),
    dataschema: z.string().optional(),
    data: z.unknown().optional(),
    data_base64: z.string().optional(),
  })
  .catchall(z.unknown());

type CloudEvent = z.infer<typeof CloudEventSchema>;
const CORE = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'data', 'data_base64']);

function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

export function isCloudEventRequest(req: FastifyRequest): boolean {
  const type = mediaType(req);
  return type === STRUCTURED || type === BATCH || req.headers['ce-specversion'] !== undefined;
}

/** Returns Reflex event inputs (still to be validated by normalizeEvents) for a CloudEvents request. */
export function eventsFromCloudEvents(req: FastifyRequest): unknown {
  const type = mediaType(req);
  if (type === BATCH) {
    if (!Array.isArray(req.body)) throw new ValidationError('a CloudEvents batch must be a JSON array', [{ path: '', message: 'expected an array' }]);
    return req.body.map((ce, i) => toReflex(parseCloudEvent(ce, [i])));
  }
  if (type === STRUCTURED) return toReflex(parseCloudEvent(req.body, []));
  return toReflex(parseCloudEvent(binaryModeEvent(req), []));
}

function binaryModeEvent(req: FastifyRequest): Record<string, unknown> {
  const ce: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('ce-') && typeof value === 'string') {
      try {
        ce[name.slice(3)] = decodeURIComponent(value);
      } catch {
        // Binary-mode attributes are percent-encoded; a lone or broken `%` is the sender's mistake.
        throw new ValidationError(`header ${name} is not valid percent-encoding`, [{ path: name, message: 'malformed percent-encoding' }]);
      }
    }
  }
  const contentType = req.headers['content-type'];
  if (contentType) ce.datacontenttype = contentType;
  const body = req.body;
  if (Buffer.isBuffer(body)) {
    const text = body.toString('utf8');
    ce.data = /json/i.test(contentType ?? '') && text ? safeJson(text) : text;
  } else if (body !== undefined) {
    ce.data = body;
  }
  return ce;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('the CloudEvent data is declared JSON but does not parse', [{ path: 'data', message: 'invalid JSON' }]);
  }
}

function parseCloudEvent(input: unknown, prefix: (string | number)[]): CloudEvent {
  const parsed = CloudEventSchema.safeParse(input);
  if (!parsed.success) throw ValidationError.fromIssues('CloudEvent', parsed.error.issues, prefix);
  return parsed.data;
}

function toReflex(ce: CloudEvent): Record<string, unknown> {
  const resource: Record<string, string> = {
    'reflex.resource.id': ce.subject ? `${ce.source}/${ce.subject}` : ce.source,
    'ce.source': ce.source,
  };
  if (ce.subject) resource['ce.subject'] = ce.subject;
  for (const [name, value] of Object.entries(ce)) {
    if (!CORE.has(name) && typeof value === 'string') resource[`ce.${name}`] = value;
  }
  let payload: Record<string, unknown>;
  if (ce.data_base64 !== undefined) payload = { data_base64: ce.data_base64 };
  else if (ce.data && typeof ce.data === 'object' && !Array.isArray(ce.data)) payload = ce.data as Record<string, unknown>;
  else payload = ce.data === undefined ? {} : { data: ce.data };
  const out: Record<string, unknown> = { event: ce.type, resource, payload };
  if (isUuid(ce.id)) out.id = ce.id.toLowerCase();
  else {
    resource['ce.id'] = ce.id;
    out.id = deterministicUuid(`${ce.source}\n${ce.id}`);
  }
  if (ce.time) out.occurred = ce.time;
  return out;
}

