import type { Logger } from '../../core/log.ts';
import { LoopDelay } from '../../infra/loop-delay.ts';
import type { Metrics } from '../../infra/metrics.ts';
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
/**
 * Direct deliveries this process holds (writing their row, sending, or waiting for a slot of their host),
 * all hosts together. Past that, `deliver` waits (first come, first served) for one to finish: the
 * automations consumer slows down and the backlog stays in JetStream, where ingest's lag bound sees it,
 * instead of falling to the queue, whose path costs more CPU per delivery and so made an overloaded
 * machine fall further behind (issue 12: at 3,000 events/s most deliveries went to the queue and
 * webhooks/s dropped by a third). 1,000 instead of 256 cost 4-7 % more of this process's CPU at
 * 3,000/s (GC), for the same throughput.
 */
const MAX_IN_FLIGHT = 256;
/** The longest a delivery waits, for room in this process or for a slot of its host; then it is queued. */
const MAX_WAIT_MS = 5000;
/**
 * Deliveries of a host that is not keeping up (see `keepsUp`) that may wait for its slots: a quarter of
 * MAX_IN_FLIGHT, so a host that hangs holds at most half of the room with its slots (64 by default) while
 * it is found out (about a second). A host that keeps up has no bound of its own: its slots come back
 * within milliseconds, and what holds them is this process's own loop under load, which queueing would
 * only make worse.
 */
const DIRECT_HOST_WAITING = MAX_IN_FLIGHT / 4;
/** A host keeps up when one of its requests ended within SLOW_MS and its recent ones took under this on average. */
const KEEPS_UP_MS = 250;
/** How often hosts with deliveries waiting are checked for having stopped answering. */
const STUCK_CHECK_MS = 250;

export interface DirectDeliveryOptions {
  /** Requests in flight per host from this process (REFLEX_WEBHOOK_HOST_CONCURRENCY). */
  hostConcurrency: number;
  /** Deliveries this process holds before `deliver` waits for room (MAX_IN_FLIGHT; tests lower it). */
  maxInFlight?: number;
  /** The longest wait for room or for a slot before the delivery is queued (MAX_WAIT_MS). */
  maxWaitMs?: number;
  metrics?: Metrics;
}

/**
 * Deliveries without the queue hop (issue 12). The queue (Redis, then the webhook service's worker, its
 * delivery-log check and its completion script) was most of what a webhook cost between an event and its
 * receiver: this process makes the first attempt itself instead, right after the delivery's row is written.
 *
 * - **Nothing waits for the receiver.** `deliver` answers once the row is written (what makes the delivery
 *   durable, as the job in Redis did), so the automations consumer acknowledges its events as before; the
 *   request runs in the background, and a slow or hostile receiver never stalls evaluation.
 * - **Only healthy hosts.** A delivery goes to the queue instead when a direct attempt to its host failed
 *   or took over a second in the last 30 s, when the host stopped answering (its slots full and none back
 *   for a second: its waiting deliveries are queued too), when the host does not keep up and already has
 *   `hostConcurrency` requests in flight here and DIRECT_HOST_WAITING deliveries waiting for one, when one has
 *   waited 5 s, when its row already existed (the firing dispatched twice: the queued job's check of the
 *   delivery log decides), or when this process is stopping.
 * - **Overload slows evaluation down** rather than moving work to the costlier queue: past `maxInFlight`
 *   (256) deliveries in this process, `deliver` waits for room (at most 5 s, then it queues).
 * - **Retries go to the queue**, as a delayed job of the delivery's own id: the webhook service makes them.
 * - **A process that dies mid-attempt** leaves its delivery claimed (`claimed_until`: the attempt's timeout,
 *   the longest wait for a slot and 15 s); the webhook service's sweeper queues it once the claim runs
 *   out, so it is sent at least once.
 */
export class DirectDeliveries {
  private readonly limiter: HostLimiter;
  /** Attempts sent or waiting for a slot, each ending (its outcome recorded, or queued) in the background. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Deliveries past the door, writing their row: counted against `maxInFlight` with those in flight. */
  private entering = 0;
  /** Deliveries waiting at the door for room, oldest first; a delivery that leaves lets the first one in. */
  private readonly room: ((got: boolean) => void)[] = [];
  private readonly coolUntil = new Map<string, number>();
  private readonly hosts = new Map<string, HostPace>();
  /** performance.now() when a host's first delivery now waiting began to wait. */
  private readonly waitingSince = new Map<string, number>();
  private stuckTimer: NodeJS.Timeout | undefined;
  /** Timings here include this loop's own delay, which says nothing of the receiver: it is taken off. */
  private readonly loop = new LoopDelay();
  private readonly maxInFlight: number;
  private readonly maxWaitMs: number;
  private readonly metrics: Metrics | undefined;
  private stopping = false;

  constructor(
    private readonly sender: WebhookSender,
    private readonly queue: DeliveryQueue,
    private readonly log: Logger,
    options: DirectDeliveryOptions,
  ) {
    this.maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT;
    this.maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;
    this.metrics = options.metrics;
    this.limiter = new HostLimiter(options.hostConcurrency, DIRECT_HOST_WAITING);
  }

  /** Sends `data` directly, or queues it; resolves once it is durable, answering which way it went. */
  async deliver(data: WebhookDeliveryJob): Promise<'direct' | 'queued'> {
    if (this.stopping) return this.enqueue(data, 'stopping');
    if (this.inFlight.size + this.entering < this.maxInFlight) this.entering += 1;
    // Let in by letNextIn, which counts it as entering.
    else if (!(await this.waitForRoom())) return this.enqueue(data, this.stopping ? 'stopping' : 'busy');
    try {
      return await this.enter(data);
    } finally {
      // Queued, its place is free now; sending, it holds its place until its attempt ends.
      this.entering -= 1;
      this.letNextIn();
    }
  }

  /** Stops taking direct deliveries and waits (at most `graceMs`) for those in flight; the rest are left to their claims. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    clearInterval(this.stuckTimer);
    this.loop.stop();
    // Deliveries waiting at the door go to the queue.
    for (const enter of this.room.splice(0)) enter(false);
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
    clearTimeout(timer);
  }

  /** Past the door: writes the row and starts the attempt, or queues the delivery. */
  private async enter(data: WebhookDeliveryJob): Promise<'direct' | 'queued'> {
    const job: DeliveryAttemptJob = { ...data, series: 1, attempt: 1 };
    const prepared = await this.sender.prepare(job);
    const host = prepared.host;
    const cool = this.coolUntil.get(host);
    if (cool !== undefined && cool > Date.now()) return this.enqueue(data, 'cooling');
    if (cool !== undefined) this.coolUntil.delete(host);
    const state = await this.sender.deliveryLog.begin(job, { claimSeconds: job.timeout_seconds + CLAIM_MARGIN_SECONDS + this.maxWaitMs / 1000 });
    if (!state.fresh) {
      // The firing was dispatched twice. A delivery still claimed is in another attempt's hands (or the
      // sweeper's, should that one die): queueing it now would send it twice at once.
      if (state.claimed) return this.counted('direct', 'duplicate');
      return this.enqueue(data, 'duplicate');
    }
    // The slot covers the request only, not the delivery-log write before it (as in the webhook service).
    const slot = this.limiter.acquire(host, this.keepsUp(host) ? Number.POSITIVE_INFINITY : DIRECT_HOST_WAITING);
    if (slot === false) {
      // Its host does not keep up and has its share in flight and waiting: the queue sends it (the job ignores the claim).
      await this.queue.enqueueAttempt(job);
      return this.counted('queued', 'host_full');
    }
    if (slot !== true) {
      if (!this.waitingSince.has(host)) this.waitingSince.set(host, performance.now());
      this.watchStuckHosts();
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
      .finally(() => {
        this.inFlight.delete(tracked);
        this.letNextIn();
      });
    this.inFlight.add(tracked);
    return this.counted('direct', 'direct');
  }

  /** Resolves true once a delivery has left and this one may enter, false after `maxWaitMs` or on stop. */
  private waitForRoom(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        const i = this.room.indexOf(enter);
        if (i >= 0) this.room.splice(i, 1);
        resolve(false);
      }, this.maxWaitMs);
      const enter = (got: boolean) => {
        clearTimeout(timer);
        resolve(got);
      };
      this.room.push(enter);
    });
  }

  /** Lets the first delivery waiting at the door in, when there is room (it counts as entering from here). */
  private letNextIn(): void {
    if (this.inFlight.size + this.entering >= this.maxInFlight) return;
    const next = this.room.shift();
    if (!next) return;
    this.entering += 1;
    next(true);
  }

  /** A request to the host ended within SLOW_MS, and its recent requests took under KEEPS_UP_MS on average. */
  private keepsUp(host: string): boolean {
    const pace = this.hosts.get(host);
    return pace !== undefined && performance.now() - pace.endedAt < SLOW_MS + this.loop.recentMaxMs() && pace.averageMs < KEEPS_UP_MS;
  }

  /**
   * While deliveries wait for a host's slots, checks that the host still answers: one whose slots are
   * all held and none came back for SLOW_MS (a hang) is cooled down and its waiting deliveries queued,
   * so that it does not hold places at the door for `maxWaitMs`.
   */
  private watchStuckHosts(): void {
    if (this.stuckTimer) return;
    this.stuckTimer = setInterval(() => {
      const hosts = this.limiter.waitingHosts();
      if (hosts.length === 0) {
        clearInterval(this.stuckTimer);
        this.stuckTimer = undefined;
        this.waitingSince.clear();
        return;
      }
      const now = performance.now();
      for (const host of this.waitingSince.keys()) if (!hosts.includes(host)) this.waitingSince.delete(host);
      for (const host of hosts) {
        const since = Math.max(this.hosts.get(host)?.endedAt ?? 0, this.waitingSince.get(host) ?? now);
        if (now - since < SLOW_MS + this.loop.recentMaxMs()) continue;
        this.waitingSince.delete(host);
        this.coolUntil.set(host, Date.now() + COOL_DOWN_MS);
        const dropped = this.limiter.drop(host);
        this.log.warn({ host, queued: dropped }, 'webhook host stopped answering direct attempts; its deliveries go through the queue for 30 s');
      }
    }, STUCK_CHECK_MS);
    this.stuckTimer.unref();
  }

  private async enqueue(data: WebhookDeliveryJob, why: DirectWay): Promise<'queued'> {
    await this.queue.enqueue(data);
    return this.counted('queued', why);
  }

  private counted<W extends 'direct' | 'queued'>(way: W, why: DirectWay): W {
    this.metrics?.directDeliveries.inc({ way: why });
    return way;
  }

  private async attempt(p: PreparedAttempt, slot: true | Promise<boolean>): Promise<void> {
    if (slot !== true) {
      let timer: NodeJS.Timeout | undefined;
      const got = await Promise.race([slot, new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.maxWaitMs)))]);
      clearTimeout(timer);
      if (got !== true) {
        // Waited too long for its host, or turned away (the host stopped answering): the queue sends it
        // (the job does not look at the claim). A slot handed over after the wait ran out is returned.
        if (got === 'late') void slot.then((handedOver) => handedOver && this.limiter.release(p.host));
        this.metrics?.directDeliveries.inc({ way: got === 'late' ? 'waited' : 'stuck' });
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
    this.paced(p.host, outcome.latencyMs);
    // A delivery that could not be sent for reasons of its own (a secret not granted) says nothing of its host.
    const failing = outcome.kind === 'error' ? !('error' in p.filled) : outcome.status >= 500 || outcome.status === 429;
    if (failing || outcome.latencyMs - this.loop.recentMaxMs() > SLOW_MS) this.coolUntil.set(p.host, Date.now() + COOL_DOWN_MS);
    const recorded = await this.sender.record(p, started, outcome, { claimRetryForMs: RETRY_CLAIM_MS });
    if (recorded.verdict === 'retry') {
      // The claim stays until just after the retry is due: should this fail, the sweeper queues it then.
      await this.queue.enqueueAttempt({ ...p.job, attempt: p.job.attempt + 1 }, recorded.delayMs);
      return;
    }
    await this.sender.publishOutcome(p.job, recorded.verdict, recorded.statusCode, p.host);
  }

  /** Notes a request to `host` that ended, and how long it took (a moving average over about ten requests). */
  private paced(host: string, latencyMs: number): void {
    const pace = this.hosts.get(host);
    const now = performance.now();
    if (pace === undefined) {
      if (this.hosts.size >= MAX_HOSTS) this.hosts.clear();
      this.hosts.set(host, { endedAt: now, averageMs: Math.max(0, latencyMs - this.loop.recentMaxMs()) });
      return;
    }
    pace.endedAt = now;
    pace.averageMs += (Math.max(0, latencyMs - this.loop.recentMaxMs()) - pace.averageMs) / 10;
  }
}

/** The hosts whose pace is kept; the map is dropped whole when full (it is only a hint). */
const MAX_HOSTS = 10_000;

/** Which way a delivery went, and why when it was queued (the `way` label of reflex_webhook_direct_deliveries_total). */
type DirectWay = 'direct' | 'duplicate' | 'stopping' | 'busy' | 'cooling' | 'host_full' | 'waited' | 'stuck';

interface HostPace {
  /** performance.now() when its last request ended. */
  endedAt: number;
  averageMs: number;
}
