import { Queue } from 'bullmq';
import { z } from 'zod';
import type { Runtime } from '../../core/runtime.ts';
import { WebhookDeliveryJobSchema, type WebhookDeliveryJob } from '../../schemas/jobs.ts';

/** What travels on the queue: the contract plus which series and attempt this job is. */
export const DeliveryAttemptJobSchema = WebhookDeliveryJobSchema.extend({
  series: z.number().int().min(1).default(1),
  attempt: z.number().int().min(1).default(1),
});
export type DeliveryAttemptJob = z.output<typeof DeliveryAttemptJobSchema>;

export function deliveryQueue(rt: Runtime): Queue {
  return new Queue(rt.names.queues.webhookDeliveries, { connection: rt.redis, prefix: rt.names.bullPrefix });
}

/**
 * Enqueues a delivery (producers: automations, replays). The job id is the idempotency key, so enqueuing
 * the same delivery twice sends it once; a replay's series number makes its job id new.
 */
export async function enqueueDelivery(queue: Queue, job: WebhookDeliveryJob, series = 1): Promise<string> {
  const jobId = series === 1 ? job.idempotency_key : `${job.idempotency_key}-replay-${series}`;
  await queue.add('deliver', { ...job, series, attempt: 1 }, { jobId, removeOnComplete: 1000, removeOnFail: 5000 });
  return jobId;
}
