import type { Logger } from '../../core/log.ts';
import type { Pool } from '../../infra/db.ts';
import { expiredClaims, releaseClaims, type DeliveryQueue } from '../../modules/webhooks/index.ts';

/** How often the expired claims are looked for; a claim lasts the attempt's timeout plus a margin. */
const SWEEP_INTERVAL_MS = 2000;
const BATCH = 500;

/**
 * Queues the direct deliveries whose claim ran out: the automations process that made the first attempt
 * died before recording it, or could not queue the retry. The job of the next attempt goes to the queue
 * (its id is the delivery's, so queueing it twice, from two replicas or after a retry that was queued
 * after all, sends it once), then the claim ends. The job's own check of the delivery log keeps a
 * delivery that did finish from being sent again.
 */
export class ClaimSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly pg: Pool,
    private readonly deliveries: DeliveryQueue,
    private readonly log: Logger,
    private readonly intervalMs = SWEEP_INTERVAL_MS,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; answers how many deliveries it queued. */
  async sweep(): Promise<number> {
    let queued = 0;
    for (;;) {
      const claims = await expiredClaims(this.pg, BATCH);
      if (claims.length === 0) return queued;
      for (const c of claims) await this.deliveries.enqueueAttempt(c.job);
      await releaseClaims(this.pg, claims.map((c) => ({ id: c.job.delivery_id, claimedUntil: c.claimedUntil })));
      queued += claims.length;
      this.log.warn({ deliveries: claims.map((c) => c.job.delivery_id).slice(0, 20), count: claims.length }, 'queued direct deliveries whose claim ran out (their process stopped mid-attempt)');
      if (claims.length < BATCH || this.stopped) return queued;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .then(() => undefined)
        .catch((err) => this.log.warn({ err }, 'could not sweep the expired delivery claims; trying again'))
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }
}
