import type { z } from 'zod';
import type { Pool } from '../../infra/db.ts';
import type { WebhookDeliveryJob } from '../../schemas/jobs.ts';
import type { DeliveryStatus, WebhookAttemptSchema, WebhookDeliverySchema } from '../../schemas/webhook.ts';

export type { DeliveryStatus };

/** A delivery as the API shows it: never with its secret. */
export type DeliveryView = Omit<z.output<typeof WebhookDeliverySchema>, 'attempts'>;
export type AttemptRecord = z.output<typeof WebhookAttemptSchema>;

const VIEW_COLUMNS = `id, automation_id, firing_id, event_id, url, method, headers, body, format, secret IS NOT NULL AS signed,
  status, series, attempt_count, last_status_code, last_error, next_attempt_at, created, updated`;

function toView(row: Record<string, unknown>): DeliveryView {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));
  return { ...(row as unknown as DeliveryView), next_attempt_at: iso(row.next_attempt_at), created: iso(row.created)!, updated: iso(row.updated)! };
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
    `UPDATE webhook_deliveries SET series = series + 1, status = 'pending', next_attempt_at = NULL, updated = now()
     WHERE id = $1 RETURNING *`,
    [id],
  );
  const r = res.rows[0];
  if (!r) return null;
  return {
    series: r.series,
    job: {
      delivery_id: r.id,
      idempotency_key: r.idempotency_key,
      url: r.url,
      method: r.method,
      headers: r.headers,
      body: r.body,
      secret: r.secret ?? undefined,
      timeout_seconds: r.timeout_seconds,
      retry: r.retry,
      format: r.format,
      automation_id: r.automation_id,
      firing_id: r.firing_id,
      event_id: r.event_id,
      // A replay is an operator's act, outside any automation's causal chain.
      chain: [],
    },
  };
}
