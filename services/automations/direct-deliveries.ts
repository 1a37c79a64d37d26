import type { Logger } from '../../core/log.ts';
import { contextFrom, currentTraceparent, inSpan, SpanKind, tracingEnabled } from '../../infra/tracing.ts';
import { HostLimiter, type DeliveryQueue, type PreparedAttempt, type WebhookSender } from '../../modules/webhooks/index.ts';
import type { DeliveryAttemptJob, WebhookDeliveryJob } from '../../schemas/jobs.ts';

/** A claim outlasts the attempt's own timeout by this much (the delivery-log write before the request, a slow loop). */
const CLAIM_MARGIN_SECONDS = 15;
/** A retry queued by this process stays claimed this long past its due time, in case queueing it failed. */
const RETRY_CLAIM_MS = 30_000;
/** A host whose direct attempt failed, or took longer than this, gets its deliveries through the queue for a while. */
const SLOW_MS = 1000;
const COOL_DOWN_MS = 30_000;
/** Direct attempts in flight or waiting for a slot in this process, all hosts together; past that, deliveries are queued. */
const MAX_IN_FLIGHT = 1000;
/**
 * A delivery over its host's limit waits here for a slot, at most this long (then it is queued), and at
 * most `hostWaiting` of one host's deliveries wait: a burst to one healthy receiver rides out the moment
 * its slots are all taken instead of falling to the slower queue path, a hung one fills its slots and
 * its waiting room, and the rest of its deliveries go to the queue.
 */
const MAX_WAIT_MS = 5000;
/**
 * Deliveries of one host that may wait for its slots: half of MAX_IN_FLIGHT, so a burst rides out a
 * moment of CPU contention in process (the queue's path costs more per delivery, and falling to it under
 * load made the load worse) while one hung host still leaves the other half to the others.
 */
export const DIRECT_HOST_WAITING = MAX_IN_FLIGHT / 2;

/**
 * Deliveries without the queue hop (issue 12). The queue (Redis, then the webhook service's worker, its
 * delivery-log check and its completion script) was most of what a webhook cost between an event and its
 * receiver: this process makes the first attempt itself instead, right after the delivery's row is written.
 *
 * - **Nothing waits for the receiver.** `deliver` answers once the row is written (what makes the delivery
 *   durable, as the job in Redis did), so the automations consumer acknowledges its events as before; the
 *   request runs in the background, and a slow or hostile receiver never stalls evaluation.
 * - **Only healthy hosts.** A delivery goes to the queue instead when its host already has
 *   `hostConcurrency` direct requests in flight here and `hostWaiting` deliveries waiting for one (a waiter
 *   is queued after 5 s), when a direct attempt to the host failed or took over a second in the last 30 s,
 *   when its row already existed (the firing dispatched twice: the queued job's check of the delivery log
 *   decides), or when this process is stopping.
 * - **Retries go to the queue**, as a delayed job of the delivery's own id: the webhook service makes them.
 * - **A process that dies mid-attempt** leaves its delivery claimed (`claimed_until`: the attempt's timeout,
 *   the longest wait for a slot and 15 s); the webhook service's sweeper queues it once the claim runs
 *   out, so it is sent at least once.
 */
export class DirectDeliveries {
  private readonly limiter: HostLimiter;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly coolUntil = new Map<string, number>();
  private stopping = false;

  constructor(
    private readonly sender: WebhookSender,
    private readonly queue: DeliveryQueue,
    private readonly log: Logger,
    hostConcurrency: number,
    hostWaiting: number,
  ) {
    this.limiter = new HostLimiter(hostConcurrency, hostWaiting);
  }

  /** Sends `data` directly, or queues it; resolves once it is durable, answering which way it went. */
  async deliver(data: WebhookDeliveryJob): Promise<'direct' | 'queued'> {
    if (this.stopping || this.inFlight.size >= MAX_IN_FLIGHT) return this.enqueue(data);
    const job: DeliveryAttemptJob = { ...data, series: 1, attempt: 1 };
    const prepared = await this.sender.prepare(job);
    const host = prepared.host;
    const cool = this.coolUntil.get(host);
    if (cool !== undefined && cool > Date.now()) return this.enqueue(data);
    if (cool !== undefined) this.coolUntil.delete(host);
    const state = await this.sender.deliveryLog.begin(job, { claimSeconds: job.timeout_seconds + CLAIM_MARGIN_SECONDS + MAX_WAIT_MS / 1000 });
    if (!state.fresh) {
      // The firing was dispatched twice. A delivery still claimed is in another attempt's hands (or the
      // sweeper's, should that one die): queueing it now would send it twice at once.
      if (state.claimed) return 'direct';
      return this.enqueue(data);
    }
    // The slot covers the request only, not the delivery-log write before it (as in the webhook service).
    const slot = this.limiter.acquire(host);
    if (slot === false) {
      // Its host has its share in flight and waiting: the queue sends it (the job ignores the claim).
      await this.queue.enqueueAttempt(job);
      return 'queued';
    }
    // The attempt's span is a child of the action's (the queue's path has a job span between them).
    const traceparent = tracingEnabled() ? currentTraceparent() : undefined;
    const attempt = traceparent
      ? inSpan(
          'reflex.webhook.deliver',
          { kind: SpanKind.CLIENT, parent: contextFrom({ traceparent }), attributes: { 'reflex.webhook_delivery.id': job.delivery_id, 'reflex.webhook_delivery.attempt': 1, 'reflex.webhook_delivery.direct': true } },
          () => this.attempt(prepared, slot),
        )
      : this.attempt(prepared, slot);
    const tracked: Promise<void> = attempt
      .catch((err) => this.log.error({ err, delivery_id: job.delivery_id }, 'direct delivery attempt failed; the webhook service queues it once its claim runs out'))
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return 'direct';
  }

  /** Stops taking direct deliveries and waits (at most `graceMs`) for those in flight; the rest are left to their claims. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
    clearTimeout(timer);
  }

  private async enqueue(data: WebhookDeliveryJob): Promise<'queued'> {
    await this.queue.enqueue(data);
    return 'queued';
  }

  /** Returns a slot: at once when held, or as soon as a waited-for one is handed over. */
  private giveBack(host: string, slot: true | Promise<void>): void {
    if (slot === true) this.limiter.release(host);
    else void slot.then(() => this.limiter.release(host));
  }

  private async attempt(p: PreparedAttempt, slot: true | Promise<void>): Promise<void> {
    if (slot !== true) {
      let timer: NodeJS.Timeout | undefined;
      const got = await Promise.race([slot.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), MAX_WAIT_MS)))]);
      clearTimeout(timer);
      if (!got) {
        // Waited too long for its host: the queue sends it (the job does not look at the claim).
        this.giveBack(p.host, slot);
        await this.queue.enqueueAttempt(p.job);
        return;
      }
    }
    const started = new Date();
    let outcome;
    try {
      outcome = await this.sender.send(p, started);
    } finally {
      this.limiter.release(p.host);
    }
    // A delivery that could not be sent for reasons of its own (a secret not granted) says nothing of its host.
    const failing = outcome.kind === 'error' ? !('error' in p.filled) : outcome.status >= 500 || outcome.status === 429;
    if (failing || outcome.latencyMs > SLOW_MS) this.coolUntil.set(p.host, Date.now() + COOL_DOWN_MS);
    const recorded = await this.sender.record(p, started, outcome, { claimRetryForMs: RETRY_CLAIM_MS });
    if (recorded.verdict === 'retry') {
      // The claim stays until just after the retry is due: should this fail, the sweeper queues it then.
      await this.queue.enqueueAttempt({ ...p.job, attempt: p.job.attempt + 1 }, recorded.delayMs);
      return;
    }
    await this.sender.publishOutcome(p.job, recorded.verdict, recorded.statusCode, p.host);
  }
}
