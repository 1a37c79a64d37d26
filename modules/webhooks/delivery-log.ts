import type { Pool } from '../../infra/db.ts';
import type { Logger } from '../../core/log.ts';
import type { WebhookDeliveryJob } from '../../schemas/jobs.ts';
import { Batcher, ItemFailure } from '../../infra/batcher.ts';
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

/** One write of the log: a delivery's row before an attempt, or an attempt's outcome after it. */
type LogWrite = { begin: WebhookDeliveryJob } | { attempt: AttemptWrite };

/**
 * The delivery log's writes, grouped: every job in flight that needs a write joins the next batch, and a
 * batch is one statement (rows passed as JSON parameters), the rows of deliveries about to send and the
 * attempts of those that just got their answer together. With dozens of deliveries in flight this turns
 * two commits per delivery into one per batch (it was two statements per batch, one for each kind).
 */
export class DeliveryLog {
  private readonly writes: Batcher<LogWrite, DeliveryState | undefined>;

  constructor(
    private readonly pg: Pool,
    log: Logger,
  ) {
    this.writes = new Batcher((items) => this.write(items), log, { minIntervalMs: BATCH_INTERVAL_MS });
  }

  /** Creates the delivery row on first sight (idempotent on the delivery id) and returns its state. */
  async begin(job: WebhookDeliveryJob): Promise<DeliveryState> {
    return (await this.writes.push({ begin: job }))!;
  }

  /**
   * Records one attempt and moves the delivery to its new status. An attempt of a series a replay has
   * replaced is kept in the log but leaves the delivery's status to the newer series.
   */
  async recordAttempt(write: AttemptWrite): Promise<void> {
    await this.writes.push({ attempt: write });
  }

  private async write(items: LogWrite[]): Promise<Array<DeliveryState | undefined | ItemFailure>> {
    const jobs: WebhookDeliveryJob[] = [];
    const attempts: AttemptWrite[] = [];
    for (const item of items) {
      if ('begin' in item) jobs.push(item.begin);
      else attempts.push(item.attempt);
    }
    const begins = jobs.map((j) => ({
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
    const rows = attempts.map(({ deliveryId, attempt: a, status, nextAttemptAt }) => ({
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
    // Rows the INSERT creates are invisible to a read of the table in the same statement, so the new
    // ones come from RETURNING and the existing ones from the table. Likewise the read sees a delivery as
    // it was before this statement's attempts: the same as when the begin's batch ran first, which the
    // two could always do (the stale check of the next attempt, or the series' end, covers it).
    // An attempt always follows its own delivery's begin, so no row is both inserted and updated here.
    // Data-modifying CTEs run to completion whether or not the final SELECT reads them.
    // Not a named statement, although it would save a parse and plan per batch: a named statement's
    // generic plan is made once per connection, when the table is new and empty, and kept while the table
    // grows (until an ANALYZE), so every batch went on scanning all deliveries (at 20,000 rows Postgres
    // spent 77 % of a core on this statement). Planned each time, with the ids as arrays of known length,
    // the plan follows the table's size and reaches rows through the primary key.
    const res = await this.pg.query<{ id: string; series: number; status: DeliveryStatus; fresh: boolean }>({
      text: `WITH b AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS b(id text, idempotency_key text, automation_id text, firing_id text,
           event_id text, url text, method text, headers jsonb, body text, secret text, format text, timeout_seconds float8, retry jsonb, secret_refs jsonb)),
       ins AS (
         INSERT INTO webhook_deliveries (id, idempotency_key, automation_id, firing_id, event_id, url, method, headers, body, secret, format, timeout_seconds, retry, secret_refs)
         SELECT id, idempotency_key, automation_id, firing_id, event_id, url, method, headers, body, secret, format, timeout_seconds, retry, secret_refs FROM b
         ON CONFLICT (id) DO NOTHING RETURNING id, series, status),
       r AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(delivery_id text, series int, attempt int, started timestamptz,
           status_code int, latency_ms float8, response_headers jsonb, response_body text, error text, outcome text,
           status text, next_attempt_at timestamptz)),
       a AS (
         INSERT INTO webhook_attempts (delivery_id, series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome)
         SELECT delivery_id, series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome FROM r
         ON CONFLICT DO NOTHING RETURNING delivery_id),
       n AS (SELECT delivery_id, count(*) AS added FROM a GROUP BY delivery_id),
       u AS (
         UPDATE webhook_deliveries d SET
           attempt_count = d.attempt_count + coalesce(n.added, 0),
           status = CASE WHEN d.series = r.series THEN r.status ELSE d.status END,
           last_status_code = CASE WHEN d.series = r.series THEN r.status_code ELSE d.last_status_code END,
           last_error = CASE WHEN d.series = r.series THEN r.error ELSE d.last_error END,
           next_attempt_at = CASE WHEN d.series = r.series THEN r.next_attempt_at ELSE d.next_attempt_at END,
           updated = now()
         FROM r LEFT JOIN n ON n.delivery_id = r.delivery_id WHERE d.id = r.delivery_id AND d.id = ANY($4::text[]))
       SELECT id, series, status, true AS fresh FROM ins
       UNION ALL
       SELECT d.id, d.series, d.status, false FROM webhook_deliveries d WHERE d.id = ANY($3::text[])`,
      values: [JSON.stringify(begins), JSON.stringify(rows), begins.map((b) => b.id), rows.map((r) => r.delivery_id)],
    });
    const byId = new Map(res.rows.map((r) => [r.id, r]));
    return items.map((item) => {
      if (!('begin' in item)) return undefined;
      const row = byId.get(item.begin.delivery_id);
      // Only this delivery's caller fails (its job is retried); the attempts of the batch are written.
      if (!row) return new ItemFailure(new Error(`delivery ${item.begin.delivery_id} was neither created nor found`));
      return { fresh: row.fresh, series: row.series, status: row.status };
    });
  }
}

function sanitizeRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) out[storableText(k)] = storableText(v);
  return out;
}
