import { JOBS } from '../../core/jobs.ts';
import type { Queues } from '../../infra/queues.ts';
import type { WebhookDeliveryJob } from '../../schemas/jobs.ts';

/**
 * Enqueues deliveries for the webhook service (producers: the automations service, replays). The job id
 * is the idempotency key, so enqueuing the same delivery twice sends it once; a replay passes its series
 * number, which makes its job id new. Throws a ValidationError (400) when `job` breaks the
 * WebhookDeliveryJob contract (schemas/jobs.ts), validated here, where it enters the queue.
 */
export class DeliveryQueue {
  constructor(private readonly queues: Queues) {}

  enqueue(job: WebhookDeliveryJob, options: { series?: number } = {}): Promise<string> {
    return this.queues.add(JOBS.webhookDelivery, { ...job, series: options.series ?? 1, attempt: 1 }, []);
  }

  /** The queue itself (job states, counts). */
  queue() {
    return this.queues.queue(JOBS.webhookDelivery);
  }
}
