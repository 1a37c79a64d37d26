import type { Pool } from '../../infra/db.ts';
import type { Logger } from '../../core/log.ts';
import type { DeliveryAttemptJob, WebhookDeliveryJob } from '../../schemas/jobs.ts';
import { Batcher, ItemFailure } from '../../infra/batcher.ts';
import { storableText } from '../../core/json.ts';
import { deliveryJobFromRow, type AttemptRecord, type DeliveryStatus } from './deliveries.ts';

/** What the delivery log holds for a delivery when a job of it starts. */
export interface DeliveryState {
  /** True when this job created the row (first sight of the delivery). */
  fresh: boolean;
  series: number;
  status: DeliveryStatus;
  /** A direct attempt answers for the delivery until its claim runs out (`BeginOptions.claimSeconds`). */
  claimed: boolean;
}

export interface AttemptWrite {
  deliveryId: string;
  /** The delivery as queued: its row is written from it should the attempt find none (see `write`). */
  job: WebhookDeliveryJob;
  attempt: AttemptRecord;
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
  /**
   * Until when the writer still answers for the delivery (a direct attempt whose retry it queues
   * itself), or null (default): the queue holds it, or it is finished. See `begin`'s `claimSeconds`.
   */
  claimUntil?: Date | null;
}

export interface BeginOptions {
  /**
   * Claims a delivery this call creates for this many seconds: its writer sends the first attempt itself
   * (a direct delivery). A delivery still claimed when the claim runs out, because its writer died
   * mid-attempt, is queued by the webhook service's sweeper (`expiredClaims`).
   */
  claimSeconds?: number;
}

/** A delivery waits at most this long for others to share its log write. */
const BATCH_INTERVAL_MS = 2;

/** One write of the log: a delivery's row before an attempt, or an attempt's outcome after it. */
type LogWrite = { begin: WebhookDeliveryJob; claimSeconds?: number } | { attempt: AttemptWrite };

/**
 * The delivery log's writes, grouped: every job in flight that needs a write joins the next batch, and a
 * batch is one statement (rows passed as JSON parameters), the rows of deliveries about to send and the
 * attempts of those that just got their answer together. With dozens of deliveries in flight this turns
 * two commits per delivery into one per batch (it was two statements per batch, one for each kind).
 */
export class DeliveryLog {
  private readonly writes: Batcher<LogWrite, DeliveryState | undefined>;
  /**
   * Each delivery's columns as the statement takes them (JSON, open at the end), made once per job: its
   * begin and its attempt both carry them (the attempt's upsert needs the full row), and each used to put
   * the body through JSON.stringify and the storable-text check again.
   */
  private readonly columnsText = new WeakMap<WebhookDeliveryJob, string>();

  constructor(
    private readonly pg: Pool,
    log: Logger,
  ) {
    this.writes = new Batcher((items) => this.write(items), log, { minIntervalMs: BATCH_INTERVAL_MS });
  }

  /** Creates the delivery row on first sight (idempotent on the delivery id) and returns its state. */
  async begin(job: WebhookDeliveryJob, options: BeginOptions = {}): Promise<DeliveryState> {
    return (await this.writes.push({ begin: job, claimSeconds: options.claimSeconds }))!;
  }

  /**
   * Records one attempt and moves the delivery to its new status. An attempt of a series a replay has
   * replaced is kept in the log but leaves the delivery's status to the newer series.
   */
  async recordAttempt(write: AttemptWrite): Promise<void> {
    await this.writes.push({ attempt: write });
  }

  private async write(items: LogWrite[]): Promise<Array<DeliveryState | undefined | ItemFailure>> {
    // An upsert may touch a row once per statement: two attempts of one delivery (an old series and its
    // replay's) in one batch go in two statements.
    const seen = new Set<string>();
    const later: number[] = [];
    items.forEach((item, i) => {
      if (!('attempt' in item)) return;
      if (seen.has(item.attempt.deliveryId)) later.push(i);
      else seen.add(item.attempt.deliveryId);
    });
    if (later.length === 0) return this.writeOnce(items);
    const first = items.filter((_, i) => !later.includes(i));
    const out = await this.writeOnce(first);
    const rest = await this.write(later.map((i) => items[i]));
    const results: Array<DeliveryState | undefined | ItemFailure> = [];
    let f = 0;
    let r = 0;
    items.forEach((_, i) => results.push(later.includes(i) ? rest[r++] : out[f++]));
    return results;
  }

  private async writeOnce(items: LogWrite[]): Promise<Array<DeliveryState | undefined | ItemFailure>> {
    const now = Date.now();
    const begins: string[] = [];
    const beginIds: string[] = [];
    const rows: string[] = [];
    for (const item of items) {
      if ('begin' in item) {
        const claimedUntil = item.claimSeconds === undefined ? null : new Date(now + item.claimSeconds * 1000).toISOString();
        begins.push(`${this.columns(item.begin)},"claimed_until":${JSON.stringify(claimedUntil)}}`);
        beginIds.push(item.begin.delivery_id);
      } else rows.push(`${this.columns(item.attempt.job)},${JSON.stringify(attemptFields(item.attempt)).slice(1)}`);
    }
    // The statement reaches the table only through ON CONFLICT (the primary key's index, whatever the
    // planner thinks of the table), which makes it safe to keep prepared: a named statement is planned
    // once per connection, when the table may be new and empty, and that plan is kept while the table
    // grows. The earlier form joined the table to the batch (UPDATE … FROM, SELECT … WHERE id IN), and its
    // plan, made on the empty table, scanned every delivery for the life of the connection (77 % of a core
    // in Postgres at 20,000 rows). An attempt's delivery is moved to its new status by an upsert from the
    // full row (the job), which finds the row by the same index; a begin's row that already existed is
    // read after the statement, by id.
    // Rows the INSERT creates are invisible to the rest of the statement, so a begin and an attempt of the
    // same delivery in one batch cannot meet (an attempt always follows its own delivery's begin).
    const res = await this.pg.query<{ id: string; series: number; status: DeliveryStatus; claimed: boolean }>({
      name: 'reflex_webhook_delivery_log_v2',
      text: `WITH b AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS b(${DELIVERY_COLUMNS})),
       ins AS (
         INSERT INTO webhook_deliveries (${DELIVERY_NAMES})
         SELECT ${DELIVERY_NAMES} FROM b
         ON CONFLICT (id) DO NOTHING RETURNING id, series, status, claimed_until IS NOT NULL AS claimed),
       r AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(${DELIVERY_COLUMNS}, series int, attempt int, started timestamptz,
           status_code int, latency_ms float8, response_headers jsonb, response_body text, error text, outcome text,
           status text, next_attempt_at timestamptz)),
       a AS (
         INSERT INTO webhook_attempts (delivery_id, series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome)
         SELECT id, series, attempt, started, status_code, latency_ms, response_headers, response_body, error, outcome FROM r
         ON CONFLICT DO NOTHING RETURNING delivery_id),
       n AS (SELECT delivery_id, count(*) AS added FROM a GROUP BY delivery_id),
       u AS (
         INSERT INTO webhook_deliveries AS d (${DELIVERY_NAMES}, series, status, attempt_count, last_status_code, last_error, next_attempt_at)
         SELECT ${DELIVERY_NAMES.split(', ').map((c) => `r.${c}`).join(', ')}, r.series, r.status, coalesce(n.added, 0), r.status_code, r.error, r.next_attempt_at
         FROM r LEFT JOIN n ON n.delivery_id = r.id
         ON CONFLICT (id) DO UPDATE SET
           attempt_count = d.attempt_count + EXCLUDED.attempt_count,
           status = CASE WHEN d.series = EXCLUDED.series THEN EXCLUDED.status ELSE d.status END,
           last_status_code = CASE WHEN d.series = EXCLUDED.series THEN EXCLUDED.last_status_code ELSE d.last_status_code END,
           last_error = CASE WHEN d.series = EXCLUDED.series THEN EXCLUDED.last_error ELSE d.last_error END,
           next_attempt_at = CASE WHEN d.series = EXCLUDED.series THEN EXCLUDED.next_attempt_at ELSE d.next_attempt_at END,
           claimed_until = CASE WHEN d.series = EXCLUDED.series THEN EXCLUDED.claimed_until ELSE d.claimed_until END,
           updated = now())
       SELECT id, series, status, claimed FROM ins`,
      values: [`[${begins.join(',')}]`, `[${rows.join(',')}]`],
    });
    const byId = new Map<string, { series: number; status: DeliveryStatus; claimed: boolean; fresh: boolean }>(res.rows.map((r) => [r.id, { ...r, fresh: true }]));
    const existing = beginIds.filter((id) => !byId.has(id));
    if (existing.length > 0) {
      // Unnamed (planned for these ids, at the table's size now): a job run again, a retry, a redelivery.
      const found = await this.pg.query<{ id: string; series: number; status: DeliveryStatus; claimed: boolean }>(
        'SELECT id, series, status, coalesce(claimed_until > now(), false) AS claimed FROM webhook_deliveries WHERE id = ANY($1::text[])',
        [existing],
      );
      for (const r of found.rows) byId.set(r.id, { ...r, fresh: false });
    }
    return items.map((item) => {
      if (!('begin' in item)) return undefined;
      const row = byId.get(item.begin.delivery_id);
      // Only this delivery's caller fails (its job is retried); the attempts of the batch are written.
      if (!row) return new ItemFailure(new Error(`delivery ${item.begin.delivery_id} was neither created nor found`));
      return { fresh: row.fresh, series: row.series, status: row.status, claimed: row.claimed };
    });
  }

  /** The job's delivery columns, except claimed_until: a JSON object without its closing brace. */
  private columns(job: WebhookDeliveryJob): string {
    let text = this.columnsText.get(job);
    if (text === undefined) {
      text = JSON.stringify(deliveryColumns(job)).slice(0, -1);
      this.columnsText.set(job, text);
    }
    return text;
  }
}

const DELIVERY_COLUMNS = `id text, idempotency_key text, automation_id text, firing_id text, event_id text, url text, method text,
  headers jsonb, body text, secret text, format text, timeout_seconds float8, retry jsonb, secret_refs jsonb, chain jsonb, claimed_until timestamptz`;
const DELIVERY_NAMES = DELIVERY_COLUMNS.split(',').map((c) => c.trim().split(/\s+/)[0]).join(', ');

/** A delivery's row as the statement's recordsets take it, but for claimed_until (set per write). */
function deliveryColumns(j: WebhookDeliveryJob): Record<string, unknown> {
  return {
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
    chain: j.chain.length ? j.chain : null,
  };
}

/** What an attempt's row adds to its delivery's columns. */
function attemptFields({ attempt: a, status, nextAttemptAt, claimUntil }: AttemptWrite): Record<string, unknown> {
  return {
    claimed_until: claimUntil?.toISOString() ?? null,
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
  };
}

/** A delivery whose claim ran out: the job to queue for its next attempt. */
export interface ExpiredClaim {
  job: DeliveryAttemptJob;
  claimedUntil: Date;
}

/**
 * Deliveries whose claim ran out (oldest first): their writer died mid-attempt or could not queue the
 * retry. Answered as the jobs of their next attempt; `releaseClaims` ends the claims once they are queued
 * (queueing twice is harmless: the job id is the delivery's).
 */
export async function expiredClaims(pg: Pool, limit: number): Promise<ExpiredClaim[]> {
  const res = await pg.query(
    `SELECT id, idempotency_key, url, method, headers, body, secret, secret_refs, timeout_seconds, retry, format, automation_id, firing_id, event_id,
       chain, series, attempt_count, claimed_until
     FROM webhook_deliveries WHERE claimed_until < now() ORDER BY claimed_until LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => ({
    claimedUntil: r.claimed_until,
    job: { ...deliveryJobFromRow(r, r.chain ?? []), series: r.series, attempt: r.attempt_count + 1 },
  }));
}

/** Ends the claims of these deliveries, unless a writer renewed one since it was read. */
export async function releaseClaims(pg: Pool, claims: { id: string; claimedUntil: Date }[]): Promise<void> {
  if (claims.length === 0) return;
  await pg.query(
    `UPDATE webhook_deliveries d SET claimed_until = NULL FROM unnest($1::text[], $2::timestamptz[]) AS c(id, until)
     WHERE d.id = c.id AND d.id = ANY($1::text[]) AND d.claimed_until = c.until`,
    [claims.map((c) => c.id), claims.map((c) => c.claimedUntil.toISOString())],
  );
}

function sanitizeRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) out[storableText(k)] = storableText(v);
  return out;
}
