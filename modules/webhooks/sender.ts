import { chainRelated, systemEvent } from '../../core/events.ts';
import { deterministicUuid } from '../../core/ids.ts';
import type { Logger } from '../../core/log.ts';
import { EventNames, resourceId, Roles } from '../../core/names.ts';
import { hasMarkers, maskMarkers } from '../../core/secret-refs.ts';
import { Batcher } from '../../infra/batcher.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { trace, tracingEnabled } from '../../infra/tracing.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import type { DeliveryAttemptJob } from '../../schemas/jobs.ts';
import type { AddressGuard } from './address-guard.ts';
import type { DeliveryLog } from './delivery-log.ts';
import type { DeliveryStatus } from './deliveries.ts';
import { send, target as targetOf, type HttpOutcome } from './http.ts';
import { attemptHeaders } from './request-headers.ts';
import { judge, retryDelayMs } from './retry.ts';
import { scrub, type Filled, type SecretFiller } from './secret-fill.ts';

/** A delivery ready for an attempt: its secrets filled in (for this attempt only) and its host known. */
export interface PreparedAttempt {
  job: DeliveryAttemptJob;
  filled: Filled;
  /** The job as sent: with its secrets filled in, when it names any. */
  target: DeliveryAttemptJob;
  /** The URL holds secret values: it is parsed for this attempt only, never cached. */
  secretUrl: boolean;
  /** Where the per-host limit counts the request. */
  host: string;
}

/** What an attempt came to, once recorded in the delivery log. */
export interface RecordedAttempt {
  verdict: 'succeeded' | 'failed' | 'retry';
  status: DeliveryStatus;
  /** Until the next attempt (retry only), Retry-After included. */
  delayMs: number;
  statusCode: number | null;
}

/**
 * One attempt of a delivery, whoever makes it: the webhook service for a queued job, or the automations
 * service for a direct first attempt (services/automations/direct-deliveries.ts). Fills secrets in, signs
 * (Standard Webhooks), sends through the address guard, masks secret values in what comes back, judges the
 * answer, records the attempt and publishes the outcome event. What to do with a retry (delay the job,
 * queue one) and how many requests a host may have in flight are the caller's.
 */
export class WebhookSender {
  // Outcome events of deliveries finishing together go to JetStream together (one socket write).
  private readonly outcomes: Batcher<ReflexEvent, void>;

  constructor(
    bus: EventBus,
    private readonly guard: AddressGuard,
    readonly deliveryLog: DeliveryLog,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    // Secrets (issue 13): without a filler, a delivery that names secrets fails with the reason.
    private readonly filler?: SecretFiller,
  ) {
    this.outcomes = new Batcher(
      async (events) => {
        await bus.publishMany(events);
        return events.map(() => undefined);
      },
      log,
      { minIntervalMs: 2 },
    );
  }

  async prepare(d: DeliveryAttemptJob): Promise<PreparedAttempt> {
    const filled: Filled = this.filler ? await this.filler.fill(d) : d.secret_refs ? { error: 'this process cannot fill secrets in' } : { job: d, values: [] };
    const target = 'job' in filled ? filled.job : d;
    const secretUrl = 'job' in filled && filled.values.length > 0;
    return { job: d, filled, target, secretUrl, host: safeHost(target.url, secretUrl) };
  }

  /** Sends the request (no retry here); a failure to send is an outcome, not a throw. */
  async send(p: PreparedAttempt, started: Date): Promise<HttpOutcome> {
    const { filled, target, job: d } = p;
    const headers = 'error' in filled ? null : attemptHeaders(target, started, target.secret ? { secret: target.secret } : null);
    let outcome: HttpOutcome =
      'error' in filled
        ? { kind: 'error', error: filled.error, latencyMs: 0, permanent: true }
        : headers === null
          ? { kind: 'error', error: 'the signing secret is not a Standard Webhooks secret (whsec_<base64>)', latencyMs: 0, permanent: true }
          : await send({ url: target.url, secretUrl: p.secretUrl, method: d.method, headers, body: target.body, timeoutMs: d.timeout_seconds * 1000 }, this.guard);
    if ('job' in filled && filled.values.length) outcome = scrubOutcome(outcome, filled.values);
    return outcome;
  }

  /**
   * Records the attempt and moves the delivery to its new status. `claimRetryForMs`: a retry stays claimed
   * this long past its due time (the caller queues it; the sweeper does, should the caller not).
   */
  async record(p: PreparedAttempt, started: Date, outcome: HttpOutcome, options: { claimRetryForMs?: number } = {}): Promise<RecordedAttempt> {
    const d = p.job;
    let verdict = judge(outcome);
    if (verdict === 'retry' && d.attempt >= d.retry.attempts) verdict = 'failed';
    const retryAfter = outcome.kind === 'response' ? outcome.headers['retry-after'] : undefined;
    const delayMs = verdict === 'retry' ? retryDelayMs(d.retry.delay_seconds, d.attempt + 1, retryAfter) : 0;
    const status: DeliveryStatus = verdict === 'retry' ? 'retrying' : verdict;
    const nextAttemptAt = verdict === 'retry' ? new Date(Date.now() + delayMs) : null;
    await this.deliveryLog.recordAttempt({
      deliveryId: d.delivery_id,
      job: d,
      attempt: {
        series: d.series,
        attempt: d.attempt,
        started: started.toISOString(),
        status_code: outcome.kind === 'response' ? outcome.status : null,
        latency_ms: outcome.latencyMs,
        response_headers: outcome.kind === 'response' ? outcome.headers : null,
        response_body: outcome.kind === 'response' ? outcome.body : null,
        error: outcome.kind === 'error' ? outcome.error : outcome.status >= 300 ? `HTTP ${outcome.status}` : null,
        outcome: verdict,
      },
      status,
      nextAttemptAt,
      claimUntil: nextAttemptAt && options.claimRetryForMs !== undefined ? new Date(nextAttemptAt.getTime() + options.claimRetryForMs) : null,
    });
    this.metrics?.deliveries.inc({ status });
    if (tracingEnabled()) {
      const span = trace.getActiveSpan();
      span?.setAttribute('reflex.webhook_delivery.outcome', status);
      if (outcome.kind === 'response') span?.setAttribute('http.response.status_code', outcome.status);
    }
    this.metrics?.deliveryLatency.observe({ status }, outcome.latencyMs / 1000);
    return { verdict, status, delayMs, statusCode: outcome.kind === 'response' ? outcome.status : null };
  }

  /** `reflex.webhook.delivery.succeeded|failed`; a failure to publish is logged, not thrown (the attempt is recorded). */
  async publishOutcome(d: DeliveryAttemptJob, verdict: 'succeeded' | 'failed', status: number | null, host: string): Promise<void> {
    const related: Record<string, string>[] = [];
    if (d.automation_id) related.push({ 'reflex.resource.id': resourceId('automation', d.automation_id), 'reflex.resource.role': Roles.automation });
    if (d.event_id) related.push({ 'reflex.resource.id': resourceId('event', d.event_id), 'reflex.resource.role': Roles.triggeringEvent });
    related.push(...chainRelated(d.chain));
    // A URL holding secrets is shown masked; otherwise without its query string (query parameters often carry tokens).
    const shown = hasMarkers(d.url) ? maskMarkers(d.url) : shownUrl(d.url);
    const event = systemEvent(
      EventNames.webhookDelivery(verdict),
      { 'reflex.resource.id': resourceId('webhook-delivery', d.delivery_id), 'reflex.webhook.host': host },
      {
        id: deterministicUuid(`${d.delivery_id}/${d.series}/${verdict}`),
        related,
        payload: { delivery_id: d.delivery_id, url: shown, status_code: status, attempts: d.attempt, series: d.series },
      },
    );
    try {
      await this.outcomes.push(event);
    } catch (err) {
      this.log.error({ err, delivery_id: d.delivery_id }, 'could not publish the delivery outcome event');
    }
  }
}

function safeHost(url: string, secretUrl: boolean): string {
  try {
    return targetOf(url, !secretUrl).host;
  } catch {
    return URL.canParse(url) ? new URL(url).host : url;
  }
}

/** The URL without its query string, or '' when it is not a URL. */
function shownUrl(url: string): string {
  let u: URL;
  try {
    u = targetOf(url).url;
  } catch {
    if (!URL.canParse(url)) return '';
    u = new URL(url);
  }
  return `${u.origin}${u.pathname}`;
}

/** The outcome with every secret value masked (a receiver may echo the request; an error may name the URL). */
function scrubOutcome(o: HttpOutcome, values: string[]): HttpOutcome {
  if (o.kind === 'error') return { ...o, error: scrub(o.error, values) };
  return {
    ...o,
    body: o.body === null ? o.body : scrub(o.body, values),
    headers: Object.fromEntries(Object.entries(o.headers).map(([k, v]) => [k, scrub(v, values)])),
  };
}
