import { maskMarkers } from '../../core/secret-refs.ts';
import type { z } from 'zod';
import type { Pool } from '../../infra/db.ts';
import type { QueryResultRow } from 'pg';
import type { AttemptWithRequest, FailingReceiver } from '../../schemas/dashboard.ts';
import type { WebhookDeliveryJob } from '../../schemas/jobs.ts';
import type { DeliveryStatus, WebhookAttemptSchema, WebhookDeliverySchema } from '../../schemas/webhook.ts';
import { attemptHeaders } from './request-headers.ts';

export type { DeliveryStatus };

/** A delivery as the API shows it: never with its secret. */
export type DeliveryView = Omit<z.output<typeof WebhookDeliverySchema>, 'attempts'>;
export type AttemptRecord = z.output<typeof WebhookAttemptSchema>;

const VIEW_COLUMNS = `id, automation_id, firing_id, event_id, url, method, headers, body, format, secret IS NOT NULL AS signed,
  status, series, attempt_count, last_status_code, last_error, next_attempt_at, created, updated`;

function toView(row: Record<string, unknown>): DeliveryView {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));
  const view = row as unknown as DeliveryView;
  // Secret markers (core/secret-refs.ts) show as the mask with the secret's name, without their nonce.
  const headers = Object.fromEntries(Object.entries(view.headers ?? {}).map(([k, v]) => [k, maskMarkers(String(v))]));
  return {
    ...view,
    url: maskMarkers(view.url),
    body: typeof view.body === 'string' ? maskMarkers(view.body) : view.body,
    headers,
    next_attempt_at: iso(row.next_attempt_at),
    created: iso(row.created)!,
    updated: iso(row.updated)!,
  };
}

export async function getDelivery(pg: Pool, id: string): Promise<(DeliveryView & { attempts: AttemptRecord[] }) | null> {
  const res = await pg.query(`SELECT ${VIEW_COLUMNS} FROM webhook_deliveries WHERE id = $1`, [id]);
  if (!res.rows[0]) return null;
  const attempts = await pg.query(
    `SELECT series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome
     FROM webhook_attempts WHERE delivery_id = $1 ORDER BY series, attempt`,
    [id],
  );
  return {
    ...toView(res.rows[0]),
    attempts: attempts.rows.map((r) => ({ ...r, started: (r.started as Date).toISOString() })),
  };
}

/** At most this many attempts are listed for one delivery (8 per series by default: a long replay history still fits). */
const MAX_ATTEMPTS_LISTED = 1000;

/**
 * Every attempt of a delivery with the request headers it sent (attemptHeaders, as the webhook service
 * built them, the signature masked); null when the delivery does not exist.
 */
export async function attemptsWithRequests(pg: Pool, deliveryId: string): Promise<AttemptWithRequest[] | null> {
  const d = await pg.query(`SELECT id, headers, format, body, secret IS NOT NULL AS signed FROM webhook_deliveries WHERE id = $1`, [deliveryId]);
  const delivery = d.rows[0];
  if (!delivery) return null;
  const res = await pg.query(
    `SELECT series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome
     FROM webhook_attempts WHERE delivery_id = $1 ORDER BY series, attempt LIMIT $2`,
    [deliveryId, MAX_ATTEMPTS_LISTED],
  );
  const request = { delivery_id: delivery.id as string, headers: (delivery.headers as Record<string, string>) ?? {}, format: delivery.format as string, body: delivery.body as string };
  return res.rows.map((r) => ({
    series: r.series,
    attempt: r.attempt,
    started: (r.started as Date).toISOString(),
    status_code: r.status_code ?? null,
    latency_ms: Number(r.latency_ms),
    // Never null when masked: only signing with a secret can fail.
    request_headers: attemptHeaders(request, r.started as Date, delivery.signed ? 'masked' : null) ?? {},
    response_headers: r.response_headers ?? null,
    response_body: r.response_body ?? null,
    error: r.error ?? null,
    outcome: r.outcome,
  }));
}

/** Receivers failing over a time range: deliveries failed or retrying, grouped by destination host. */
export async function failingReceivers(pg: Pool, since: string, until: string, limit = 20): Promise<FailingReceiver[]> {
  const res = await pg.query(
    `SELECT substring(url from '^[a-zA-Z]+://([^/?#]+)') AS host, count(*) FILTER (WHERE status = 'failed') AS failed,
            count(*) FILTER (WHERE status = 'retrying') AS retrying, max(updated) AS last
     FROM webhook_deliveries WHERE status IN ('failed', 'retrying') AND created >= $1 AND created < $2
     GROUP BY 1 ORDER BY 2 DESC, 3 DESC LIMIT $3`,
    [since, until, limit],
  );
  return res.rows.map((r) => ({ host: r.host ?? '?', failed: Number(r.failed), retrying: Number(r.retrying), last: (r.last as Date).toISOString() }));
}

/** Deliveries created in a time range that failed for good, counted per automation that made them. */
export async function failedDeliveriesByAutomation(pg: Pool, since: string, until: string): Promise<Map<string, number>> {
  const res = await pg.query<{ automation_id: string; failed: string }>(
    `SELECT automation_id, count(*) AS failed FROM webhook_deliveries
     WHERE status = 'failed' AND created >= $1 AND created < $2 AND automation_id IS NOT NULL GROUP BY automation_id`,
    [since, until],
  );
  return new Map(res.rows.map((r) => [r.automation_id, Number(r.failed)]));
}

export interface DeliveryFilter {
  automation_id?: string;
  status?: DeliveryStatus;
  since?: string;
  until?: string;
  limit: number;
  cursor?: { created: string; id: string };
}

/** Newest first, keyset-paginated on (created, id). */
export async function listDeliveries(pg: Pool, f: DeliveryFilter): Promise<DeliveryView[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.automation_id) add('automation_id = ?', f.automation_id);
  if (f.status) add('status = ?', f.status);
  if (f.since) add('created >= ?', f.since);
  if (f.until) add('created < ?', f.until);
  if (f.cursor) {
    params.push(f.cursor.created, f.cursor.id);
    where.push(`(created, id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  params.push(f.limit);
  const res = await pg.query(
    `SELECT ${VIEW_COLUMNS} FROM webhook_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return res.rows.map(toView);
}

/** Starts a new attempt series for a replay; returns the job to enqueue (with the stored secret). */
export async function startReplay(pg: Pool, id: string): Promise<{ job: WebhookDeliveryJob; series: number } | null> {
  const res = await pg.query(
    `UPDATE webhook_deliveries SET series = series + 1, status = 'pending', next_attempt_at = NULL, claimed_until = NULL, updated = now()
     WHERE id = $1 RETURNING *`,
    [id],
  );
  const r = res.rows[0];
  if (!r) return null;
  return {
    series: r.series,
    // A replay is an operator's act, outside any automation's causal chain.
    job: deliveryJobFromRow(r, []),
  };
}

/** The delivery's job as its row holds it (with the stored secret; markers are filled in again at send time). */
export function deliveryJobFromRow(r: QueryResultRow, chain: string[]): WebhookDeliveryJob {
  return {
    delivery_id: r.id,
    idempotency_key: r.idempotency_key,
    url: r.url,
    method: r.method,
    headers: r.headers,
    body: r.body,
    secret: r.secret ?? undefined,
    secret_refs: r.secret_refs ?? undefined,
    timeout_seconds: r.timeout_seconds,
    retry: r.retry,
    format: r.format,
    automation_id: r.automation_id,
    firing_id: r.firing_id,
    event_id: r.event_id,
    chain,
  };
}
