import type { z } from 'zod';
import { JOBS } from '../../core/jobs.ts';
import type { Logger } from '../../core/log.ts';
import { Batcher } from '../../infra/batcher.ts';
import type { Queues } from '../../infra/queues.ts';
import { currentTraceparent, tracingEnabled } from '../../infra/tracing.ts';
import type { DeliveryAttemptJobSchema, WebhookDeliveryJob } from '../../schemas/jobs.ts';

type AttemptInput = z.input<typeof DeliveryAttemptJobSchema>;

/**
 * Enqueues deliveries for the webhook service (producers: the automations service, replays). The job id
 * is the idempotency key, so enqueuing the same delivery twice sends it once; a replay passes its series
 * number, which makes its job id new. Throws a ValidationError (400) when `job` breaks the
 * WebhookDeliveryJob contract (schemas/jobs.ts), validated here, where it enters the queue.
 *
 * With a logger, deliveries enqueued while an add is in flight go to Redis together, in one round trip
 * (BullMQ's addBulk, one MULTI) instead of one script call and one socket write each: the automations
 * service enqueues one per qualifying event, so under load dozens share a round trip. A caller's
 * promise still settles only once its job is in Redis; a batch holding a job that breaks the contract
 * is retried job by job, so only that job's caller gets the ValidationError.
 */
export class DeliveryQueue {
  private readonly batch: Batcher<AttemptInput, string> | null;

  constructor(
    private readonly queues: Queues,
    log?: Logger,
  ) {
    this.batch = log ? new Batcher((inputs) => this.queues.addBulk(JOBS.webhookDelivery, inputs, []), log) : null;
  }

  enqueue(job: WebhookDeliveryJob, options: { series?: number } = {}): Promise<string> {
    const input: AttemptInput = { ...job, series: options.series ?? 1, attempt: 1 };
    // A traced enqueue keeps its own producer span (Queues.add), the parent of the delivery's.
    if (!this.batch || (tracingEnabled() && currentTraceparent())) return this.queues.add(JOBS.webhookDelivery, input, []);
    return this.batch.push(input);
  }

  /**
   * Queues one attempt of a delivery as it is (series and attempt given), after `delayMs`: a direct
   * delivery's retry, or a delivery whose claim ran out. Same job id as the delivery's first job.
   */
  enqueueAttempt(job: AttemptInput, delayMs = 0): Promise<string> {
    return this.queues.add(JOBS.webhookDelivery, job, [], delayMs > 0 ? { delay: Math.ceil(delayMs) } : undefined);
  }

  /** The queue itself (job states, counts). */
  queue() {
    return this.queues.queue(JOBS.webhookDelivery);
  }
}
