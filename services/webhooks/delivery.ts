import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { chainRelated, systemEvent } from '../../core/events.ts';
import { deterministicUuid } from '../../core/ids.ts';
import type { Logger } from '../../core/log.ts';
import { EventNames, resourceId, Roles } from '../../core/names.ts';
import { Batcher } from '../../infra/batcher.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { contextFrom, inSpan, SpanKind, trace, tracingEnabled } from '../../infra/tracing.ts';
import { attemptHeaders, type DeliveryLog, type DeliveryState } from '../../modules/webhooks/index.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import type { DeliveryAttemptJob } from '../../schemas/jobs.ts';
import type { AddressGuard } from './address-guard.ts';
import { HostLimiter } from './host-limiter.ts';
import { send, target as targetOf, type HttpOutcome } from './http.ts';
import { judge, retryDelayMs } from './retry.ts';
import { scrub, type Filled, type SecretFiller } from './secret-fill.ts';
import { hasMarkers, maskMarkers } from '../../core/secret-refs.ts';

/**
 * Makes one attempt of a delivery per job run. A retry moves the same job back to delayed with the next
 * attempt number, so the delay (Retry-After included) is exact and the worker slot is free meanwhile.
 */
export class DeliveryProcessor {
  private readonly limiter: HostLimiter;
  // Outcome events of deliveries finishing together go to JetStream together (one socket write).
  private readonly outcomes: Batcher<ReflexEvent, void>;

  constructor(
    bus: EventBus,
    hostConcurrency: number,
    /** Jobs over the per-host limit that may wait in process for a slot (see HostLimiter). */
    hostWaiting: number,
    private readonly guard: AddressGuard,
    private readonly deliveryLog: DeliveryLog,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    // Secrets (issue 13): without a filler, a delivery that names secrets fails with the reason.
    private readonly filler?: SecretFiller,
  ) {
    this.limiter = new HostLimiter(hostConcurrency, hostWaiting);
    this.outcomes = new Batcher(async (events) => {
      await bus.publishMany(events);
      return events.map(() => undefined);
    }, log, { minIntervalMs: 2 });
  }

  async process(job: Job<DeliveryAttemptJob>, token: string | undefined): Promise<void> {
    const traceparent = tracingEnabled() ? job.data?.traceparent : undefined;
    if (!traceparent) return this.processNow(job, token);
    // Each attempt a span, child of the one that enqueued the delivery (the automation action's).
    return inSpan(
      'reflex.webhook.deliver',
      {
        kind: SpanKind.CONSUMER,
        parent: contextFrom({ traceparent }),
        attributes: { 'reflex.webhook_delivery.id': job.data.delivery_id, 'reflex.webhook_delivery.attempt': job.data.attempt, 'messaging.system': 'bullmq' },
        expected: (err) => err instanceof DelayedError,
      },
      () => this.processNow(job, token),
    );
  }

  private async processNow(job: Job<DeliveryAttemptJob>, token: string | undefined): Promise<void> {
    try {
      await this.deliver(job, token);
    } catch (err) {
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      // The delivery log is unreachable (or Redis failed mid-job): keep the job and try again, backing off
      // up to a minute, rather than lose the delivery to a Postgres restart. The attempt number is
      // unchanged, so the receiver's budget of attempts is not spent on our own outage.
      const failures = (job.data.service_failures ?? 0) + 1;
      this.log.error({ err, delivery_id: job.data.delivery_id, failures }, 'delivery could not be processed; trying again');
      await job.updateData({ ...job.data, service_failures: failures });
      await job.moveToDelayed(Date.now() + Math.min(500 * 2 ** failures, 60_000), token);
      throw new DelayedError();
    }
  }

  private async deliver(job: Job<DeliveryAttemptJob>, token: string | undefined): Promise<void> {
    // Validated where it entered the queue (infra/queues.ts); a job without a delivery id is not ours.
    const d = job.data;
    if (typeof d?.delivery_id !== 'string' || typeof d.url !== 'string') throw new UnrecoverableError('not a webhook delivery job');

    const stale = staleReason(d, await this.deliveryLog.begin(d));
    if (stale) {
      // Completing without sending keeps the promise of one delivery per id (and one series per replay).
      this.log.debug({ delivery_id: d.delivery_id, series: d.series, attempt: d.attempt }, stale);
      return;
    }
    // The per-host limit covers the request only, not the delivery-log write before it: writes of every
    // job in flight share one batch, while a slot held across a Postgres round trip capped a single
    // healthy receiver at `limit / (write + request)` deliveries a second.
    // Secrets are filled in for this attempt only (as they are now: a rotated value is picked up).
    const filled: Filled = this.filler ? await this.filler.fill(d) : d.secret_refs ? { error: 'this webhook service cannot fill secrets in' } : { job: d, values: [] };
    const target = 'job' in filled ? filled.job : d;
    // A URL with secret values in it is parsed for this attempt only (never cached).
    const secretUrl = 'job' in filled && filled.values.length > 0;
    const host = safeHost(target.url, secretUrl);
    const slot = this.limiter.acquire(host);
    if (slot === false) {
      // This host has its share in flight and its share of waiters: wait without holding a worker slot.
      await job.moveToDelayed(Date.now() + 50 + Math.random() * 100, token);
      throw new DelayedError();
    }
    // Over the limit but within the waiting bound: the slot is handed over when a request to the host ends.
    if (slot !== true) await slot;
    const started = new Date();
    let outcome: HttpOutcome;
    try {
      const headers = 'error' in filled ? null : attemptHeaders(target, started, target.secret ? { secret: target.secret } : null);
      outcome =
        'error' in filled
          ? { kind: 'error', error: filled.error, latencyMs: 0, permanent: true }
          : headers === null
            ? { kind: 'error', error: 'the signing secret is not a Standard Webhooks secret (whsec_<base64>)', latencyMs: 0, permanent: true }
            : await send({ url: target.url, secretUrl, method: d.method, headers, body: target.body, timeoutMs: d.timeout_seconds * 1000 }, this.guard);
      if ('job' in filled && filled.values.length) outcome = scrubOutcome(outcome, filled.values);
    } finally {
      this.limiter.release(host);
    }

    let verdict = judge(outcome);
    if (verdict === 'retry' && d.attempt >= d.retry.attempts) verdict = 'failed';
    const retryAfter = outcome.kind === 'response' ? outcome.headers['retry-after'] : undefined;
    const delay = verdict === 'retry' ? retryDelayMs(d.retry.delay_seconds, d.attempt + 1, retryAfter) : 0;
    const status = verdict === 'retry' ? 'retrying' : verdict;
    await this.deliveryLog.recordAttempt({
      deliveryId: d.delivery_id,
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
      nextAttemptAt: verdict === 'retry' ? new Date(Date.now() + delay) : null,
    });

    this.metrics?.deliveries.inc({ status });
    if (tracingEnabled()) {
      const span = trace.getActiveSpan();
      span?.setAttribute('reflex.webhook_delivery.outcome', status);
      if (outcome.kind === 'response') span?.setAttribute('http.response.status_code', outcome.status);
    }
    this.metrics?.deliveryLatency.observe({ status }, outcome.latencyMs / 1000);
    if (verdict === 'retry') {
      await job.updateData({ ...d, attempt: d.attempt + 1 } satisfies DeliveryAttemptJob);
      await job.moveToDelayed(Date.now() + delay, token);
      throw new DelayedError();
    }
    await this.publishOutcome(d, verdict, outcome.kind === 'response' ? outcome.status : null, host);
  }

  private async publishOutcome(d: DeliveryAttemptJob, verdict: 'succeeded' | 'failed', status: number | null, host: string): Promise<void> {
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

/**
 * Why a job must not send, or null when it should: a replay started a newer series (the older one stops
 * at its next attempt), or this series already ended (the same delivery enqueued again after its job was
 * removed, or a job that crashed after recording its last attempt).
 */
function staleReason(d: DeliveryAttemptJob, state: DeliveryState): string | null {
  if (state.series > d.series) return 'superseded by a replay; not sending';
  if (state.series === d.series && (state.status === 'succeeded' || state.status === 'failed')) return 'series already finished; not sending';
  return null;
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
