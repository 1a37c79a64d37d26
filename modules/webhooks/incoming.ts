import { randomBytes } from 'node:crypto';
import type { Pool } from '../../infra/db.ts';
import { ConflictError, ReflexError, ValidationError, type FieldIssue } from '../../core/errors.ts';
import { normalizeEvents } from '../../core/events.ts';
import { isUuid, newId } from '../../core/ids.ts';
import { storableJson, storableText } from '../../core/json.ts';
import { createSandboxedLiquid } from '../../core/liquid.ts';
import type { FailingEndpoint } from '../../schemas/dashboard.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import { secretProblem, type Verification } from './incoming-verify.ts';

/**
 * Incoming webhooks: endpoints that turn an HTTP request into an event. This module owns the endpoint
 * store, the failed-request log and the request -> event rendering; the HTTP side is in
 * services/api/routes/incoming-webhooks.ts and signature checks in incoming-verify.ts.
 */

export const DEFAULT_INCOMING_EVENT = 'reflex.webhook.received';

/** An endpoint as stored, secret included: never send this to a client. */
export interface EndpointRecord {
  id: string;
  name: string;
  slug: string;
  template: string | null;
  secret: string | null;
  verification: Verification;
  created: string;
}

/** An endpoint as the API shows it: the receiver URL, never the secret. */
export interface EndpointView {
  id: string;
  name: string;
  slug: string;
  url: string;
  template: string | null;
  verification: Verification;
  has_secret: boolean;
  created: string;
}

export interface FailedRequestView {
  id: string;
  endpoint_id: string;
  received: string;
  method: string;
  headers: Record<string, string>;
  query: Record<string, unknown>;
  body: string;
  reason: string;
}

/** What a request carries into the template, already decoded. */
export interface IncomingRequest {
  method: string;
  headers: Record<string, string>;
  query: Record<string, unknown>;
  contentType: string;
  rawBody: Buffer;
}

// Templates are written by API users and rendered with data from anyone who knows the URL.
const liquid = createSandboxedLiquid();

/** Throws a 400 naming `template` when the template does not parse (syntax, unknown filter). */
export function checkIncomingTemplate(template: string): void {
  try {
    liquid.parse(template);
  } catch (err) {
    const message = `template does not parse: ${(err as Error).message}`;
    throw new ValidationError(message, [{ path: 'template', message }]);
  }
}

/** 32 base64url characters = 24 random bytes (192 bits): the URL is unguessable. */
export function newSlug(): string {
  return randomBytes(24).toString('base64url');
}

export function endpointView(e: EndpointRecord, publicUrl: string): EndpointView {
  return {
    id: e.id,
    name: e.name,
    slug: e.slug,
    url: `${publicUrl.replace(/\/+$/, '')}/hooks/${e.slug}`,
    template: e.template,
    verification: e.verification,
    has_secret: e.secret !== null,
    created: e.created,
  };
}

export interface NewEndpoint {
  name: string;
  template?: string | null;
  secret?: string | null;
  verification: Verification;
}

export async function createEndpoint(pg: Pool, input: NewEndpoint): Promise<EndpointRecord> {
  if (input.template) checkIncomingTemplate(input.template);
  const problem = secretProblem(input.verification, input.secret ?? null);
  if (problem) throw new ValidationError(problem, [{ path: 'secret', message: problem }]);
  try {
    const { rows } = await pg.query<EndpointRecord>(
      `INSERT INTO webhook_endpoints (id, name, slug, template, secret, verification) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, name, slug, template, secret, verification, created`,
      [newId(), input.name, newSlug(), input.template ?? null, input.secret ?? null, input.verification],
    );
    return toRecord(rows[0]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new ConflictError(`a webhook endpoint named "${input.name}" already exists`);
    throw err;
  }
}

const COLUMNS = 'id, name, slug, template, secret, verification, created';

export async function listEndpoints(pg: Pool): Promise<EndpointRecord[]> {
  const { rows } = await pg.query<EndpointRecord>(`SELECT ${COLUMNS} FROM webhook_endpoints ORDER BY name`);
  return rows.map(toRecord);
}

export async function getEndpoint(pg: Pool, id: string): Promise<EndpointRecord | null> {
  if (!isUuid(id)) return null;
  const { rows } = await pg.query<EndpointRecord>(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = $1`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function getEndpointBySlug(pg: Pool, slug: string): Promise<EndpointRecord | null> {
  const { rows } = await pg.query<EndpointRecord>(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE slug = $1`, [slug]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function deleteEndpoint(pg: Pool, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rowCount } = await pg.query('DELETE FROM webhook_endpoints WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

/** The part of a rejected request's body kept in the failed-request log. */
export const KEPT_FAILED_BODY_BYTES = 64 * 1024;

/**
 * Keeps a request that could not become an event, for its sender to debug. Anyone who knows an unsigned
 * endpoint's URL can send one, so what is kept is bounded (the first 64 KiB of the body) and made
 * storable whatever bytes arrived.
 */
export async function recordFailedRequest(pg: Pool, endpointId: string, req: IncomingRequest, reason: string): Promise<void> {
  const cut = req.rawBody.length > KEPT_FAILED_BODY_BYTES;
  const body = storableText(req.rawBody.subarray(0, KEPT_FAILED_BODY_BYTES).toString('utf8'));
  const note = cut ? ` (body cut to its first ${KEPT_FAILED_BODY_BYTES} of ${req.rawBody.length} bytes)` : '';
  await pg.query(
    `INSERT INTO webhook_failed_requests (id, endpoint_id, method, headers, query, body, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [newId(), endpointId, req.method, JSON.stringify(storableJson(req.headers)), JSON.stringify(storableJson(req.query)), body, storableText(reason) + note],
  );
}

export async function listFailedRequests(pg: Pool, endpointId: string, limit: number): Promise<FailedRequestView[]> {
  const { rows } = await pg.query<FailedRequestView & { received: Date | string }>(
    `SELECT id, endpoint_id, received, method, headers, query, body, reason FROM webhook_failed_requests
     WHERE endpoint_id = $1 ORDER BY received DESC, id DESC LIMIT $2`,
    [endpointId, limit],
  );
  return rows.map((r) => ({ ...r, received: new Date(r.received).toISOString() }));
}

/** A request that cannot become an event: answered 400 and kept in the failed-request log. */
/** Incoming endpoints with requests refused in a time range, most refusals first. */
export async function failingEndpoints(pg: Pool, since: string, until: string, limit = 20): Promise<FailingEndpoint[]> {
  const res = await pg.query(
    `SELECT e.id, e.name, count(*) AS failed, max(r.received) AS last
     FROM webhook_failed_requests r JOIN webhook_endpoints e ON e.id = r.endpoint_id
     WHERE r.received >= $1 AND r.received < $2 GROUP BY e.id, e.name ORDER BY 3 DESC LIMIT $3`,
    [since, until, limit],
  );
  return res.rows.map((r) => ({ id: r.id, name: r.name, failed: Number(r.failed), last: (r.last as Date).toISOString() }));
}

export class IncomingRequestError extends ReflexError {
  constructor(message: string, issues: FieldIssue[] = []) {
    super('invalid_request', message, { issues });
  }
}

/** Decodes the body by content type: JSON, form (an object of strings), otherwise the text as it is. */
export function decodeBody(contentType: string, raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (/^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new IncomingRequestError(`body is not valid JSON: ${(err as Error).message}`, [{ path: 'body', message: 'not valid JSON' }]);
    }
  }
  if (/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(text)) {
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    return out;
  }
  return text;
}

/**
 * Turns a request into one event: the endpoint's template rendered to event JSON, or the default
 * `reflex.webhook.received` event carrying the body. Throws IncomingRequestError (with the reason and
 * field issues) when the template fails, renders something that is not JSON, or an invalid event.
 */
export async function renderIncomingEvent(endpoint: EndpointRecord, req: IncomingRequest, maxPayloadBytes: number): Promise<ReflexEvent> {
  const body = decodeBody(req.contentType, req.rawBody);
  let candidate: unknown;
  if (endpoint.template === null) {
    candidate = {
      event: DEFAULT_INCOMING_EVENT,
      resource: { 'reflex.resource.id': `reflex.webhook.${endpoint.id}`, 'reflex.resource.name': endpoint.name },
      payload: { body, method: req.method, query: req.query, content_type: req.contentType || null },
    };
  } else {
    let rendered: string;
    try {
      rendered = await liquid.parseAndRender(endpoint.template, { body, headers: req.headers, query: req.query, method: req.method });
    } catch (err) {
      throw new IncomingRequestError(`template failed to render: ${(err as Error).message}`, [{ path: 'template', message: (err as Error).message }]);
    }
    try {
      candidate = JSON.parse(rendered);
    } catch (err) {
      throw new IncomingRequestError(`template did not render valid JSON: ${(err as Error).message}`, [
        { path: 'template', message: `rendered text is not JSON: ${rendered.slice(0, 200)}` },
      ]);
    }
    if (candidate === null || typeof candidate !== 'object' || Array.isArray(candidate)) {
      throw new IncomingRequestError('template must render one event object', [{ path: 'template', message: 'rendered JSON is not an object' }]);
    }
  }
  try {
    const [event] = normalizeEvents(candidate, { maxPayloadBytes });
    return event;
  } catch (err) {
    const what = endpoint.template === null ? 'the request makes an invalid event' : 'template rendered an invalid event';
    if (err instanceof ReflexError) throw new IncomingRequestError(`${what}: ${err.message}`, err.issues);
    throw err;
  }
}


function toRecord(row: EndpointRecord & { created: Date | string }): EndpointRecord {
  return { ...row, created: new Date(row.created).toISOString() };
}
