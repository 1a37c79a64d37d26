import type { Pool } from '../../infra/db.ts';
import type { Logger } from '../../core/log.ts';
import type { WebhookDeliveryJob } from '../../schemas/jobs.ts';
import { Batcher } from '../../infra/batcher.ts';
import { storableText } from '../../core/json.ts';
import type { AttemptRecord, DeliveryStatus } from './deliveries.ts';

/** What the delivery log holds for a delivery when a job of it starts. */
export interface DeliveryState {
  /** True when this job created the row (first sight of the delivery). */
  fresh: boolean;
  series: number;
  status: DeliveryStatus;
}

export interface AttemptWrite {
  deliveryId: string;
  attempt: AttemptRecord;
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
}

/** A delivery waits at most this long for others to share its log write. */
const BATCH_INTERVAL_MS = 2;

/**
 * The delivery log's writes, grouped: every job in flight that needs a write joins the next batch, and a
 * batch is one statement (rows passed as one JSON parameter). With dozens of deliveries in flight this
 * turns two commits per delivery into two per batch, which is most of the throughput.
 */
export class DeliveryLog {
  private readonly begins: Batcher<WebhookDeliveryJob, DeliveryState>;
  private readonly attempts: Batcher<AttemptWrite, void>;

  constructor(
    private readonly pg: Pool,
    log: Logger,
  ) {
    const paced = { minIntervalMs: BATCH_INTERVAL_MS };
    this.begins = new Batcher((jobs) => this.writeBegins(jobs), log, paced);
    this.attempts = new Batcher(
      async (writes) => {
        await this.writeAttempts(writes);
        return writes.map(() => undefined);
      },
      log,
      paced,
    );
  }

  /** Creates the delivery row on first sight (idempotent on the delivery id) and returns its state. */
  begin(job: WebhookDeliveryJob): Promise<DeliveryState> {
    return this.begins.push(job);
  }

  /**
   * Records one attempt and moves the delivery to its new status. An attempt of a series a replay has
   * replaced is kept in the log but leaves the delivery's status to the newer series.
   */
  recordAttempt(write: AttemptWrite): Promise<void> {
    return this.attempts.push(write);
  }

  private async writeBegins(jobs: WebhookDeliveryJob[]): Promise<DeliveryState[]> {
    const rows = jobs.map((j) => ({
      id: j.delivery_id,
      idempotency_key: j.idempotency_key,
      automation_id: j.automation_id,
      firing_id: j.firing_id,
      event_id: j.event_id,
      url: j.url,
      method: j.method,
      headers: j.headers,
      body: storableText(j.body),
      secret: j.secret ?? null,
      format: j.format,
      timeout_seconds: j.timeout_seconds,
      retry: j.retry,
      secret_refs: j.secret_refs ?? null,
    }));
    // Rows the INSERT creates are invisible to a read of the table in the same statement, so the new
    // ones come from RETURNING and the existing ones from the table.
    const res = await this.pg.query<{ id: string; series: number; status: DeliveryStatus; fresh: boolean }>(
      `WITH r AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(id text, idempotency_key text, automation_id text, firing_id text,
           event_id text, url text, method text, headers jsonb, body text, secret text, format text, timeout_seconds float8, retry jsonb, secret_refs jsonb)),
       ins AS (
         INSERT INTO webhook_deliveries (id, idempotency_key, automation_id, firing_id, event_id, url, method, headers, body, secret, format, timeout_seconds, retry, secret_refs)
         SELECT id, idempotency_key, automation_id, firing_id, event_id, url, method, headers, body, secret, format, timeout_seconds, retry, secret_refs FROM r
         ON CONFLICT (id) DO NOTHING RETURNING id, series, status)
       SELECT id, series, status, true AS fresh FROM ins
       UNION ALL
       SELECT d.id, d.series, d.status, false FROM webhook_deliveries d WHERE d.id IN (SELECT id FROM r)`,
      [JSON.stringify(rows)],
    );
    const byId = new Map(res.rows.map((r) => [r.id, r]));
    return jobs.map((j) => {
      const row = byId.get(j.delivery_id);
      if (!row) throw new Error(`delivery ${j.delivery_id} was neither created nor found`);
      return { fresh: row.fresh, series: row.series, status: row.status };
    });
  }

  private async writeAttempts(writes: AttemptWrite[]): Promise<void> {
    const rows = writes.map(({ deliveryId, attempt: a, status, nextAttemptAt }) => ({
      delivery_id: deliveryId,
      series: a.series,
      attempt: a.attempt,
      started: a.started,
      status_code: a.status_code,
      latency_ms: a.latency_ms,
      response_headers: a.response_headers ? sanitizeRecord(a.response_headers) : null,
      response_body: a.response_body === null ? null : storableText(a.response_body),
      error: a.error === null ? null : storableText(a.error),
      outcome: a.outcome,
      status,
      next_attempt_at: nextAttemptAt?.toISOString() ?? null,
    }));
    await this.pg.query(
      `WITH r AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(delivery_id text, series int, attempt int, started timestamptz,
           status_code int, latency_ms float8, response_headers jsonb, response_body text, error text, outcome text,
           status text, next_attempt_at timestamptz)),
       a AS (
         INSERT INTO webhook_attempts (delivery_id, series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome)
         SELECT delivery_id, series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome FROM r
         ON CONFLICT DO NOTHING RETURNING delivery_id)
       UPDATE webhook_deliveries d SET
         attempt_count = d.attempt_count + (SELECT count(*) FROM a WHERE a.delivery_id = d.id),
         status = CASE WHEN d.series = r.series THEN r.status ELSE d.status END,
         last_status_code = CASE WHEN d.series = r.series THEN r.status_code ELSE d.last_status_code END,
         last_error = CASE WHEN d.series = r.series THEN r.error ELSE d.last_error END,
         next_attempt_at = CASE WHEN d.series = r.series THEN r.next_attempt_at ELSE d.next_attempt_at END,
         updated = now()
       FROM r WHERE d.id = r.delivery_id`,
      [JSON.stringify(rows)],
    );
  }
}

function sanitizeRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) out[storableText(k)] = storableText(v);
  return out;
}
