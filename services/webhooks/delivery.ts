import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../../core/log.ts';
import { contextFrom, inSpan, SpanKind, tracingEnabled } from '../../infra/tracing.ts';
import { HostLimiter, type DeliveryState, type WebhookSender } from '../../modules/webhooks/index.ts';
import type { DeliveryAttemptJob } from '../../schemas/jobs.ts';

/**
 * Makes one attempt of a delivery per job run. A retry moves the same job back to delayed with the next
 * attempt number, so the delay (Retry-After included) is exact and the worker slot is free meanwhile.
 */
export class DeliveryProcessor {
  private readonly limiter: HostLimiter;

  constructor(
    private readonly sender: WebhookSender,
    hostConcurrency: number,
    /** Jobs over the per-host limit that may wait in process for a slot (see HostLimiter). */
    hostWaiting: number,
    private readonly log: Logger,
  ) {
    this.limiter = new HostLimiter(hostConcurrency, hostWaiting);
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

    const stale = staleReason(d, await this.sender.deliveryLog.begin(d));
    if (stale) {
      // Completing without sending keeps the promise of one delivery per id (and one series per replay).
      this.log.debug({ delivery_id: d.delivery_id, series: d.series, attempt: d.attempt }, stale);
      return;
    }
    // The per-host limit covers the request only, not the delivery-log write before it: writes of every
    // job in flight share one batch, while a slot held across a Postgres round trip capped a single
    // healthy receiver at `limit / (write + request)` deliveries a second.
    // Secrets are filled in for this attempt only (as they are now: a rotated value is picked up).
    const prepared = await this.sender.prepare(d);
    const host = prepared.host;
    const slot = this.limiter.acquire(host);
    // Over the limit but within the waiting bound, the slot is handed over when a request to the host
    // ends (this service never turns its waiters away). Past the bound, this host has its share in flight
    // and its share of waiters: the job waits in the delayed set without holding a worker slot.
    if (slot === false || (slot !== true && !(await slot))) {
      await job.moveToDelayed(Date.now() + 50 + Math.random() * 100, token);
      throw new DelayedError();
    }
    const started = new Date();
    let outcome;
    try {
      outcome = await this.sender.send(prepared, started);
    } finally {
      this.limiter.release(host);
    }
    // Recorded with no claim: from here on the queue holds the delivery (the job, delayed for a retry).
    const recorded = await this.sender.record(prepared, started, outcome);
    if (recorded.verdict === 'retry') {
      await job.updateData({ ...d, attempt: d.attempt + 1 } satisfies DeliveryAttemptJob);
      await job.moveToDelayed(Date.now() + recorded.delayMs, token);
      throw new DelayedError();
    }
    await this.sender.publishOutcome(d, recorded.verdict, recorded.statusCode, host);
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
