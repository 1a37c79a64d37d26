import { Queue, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { ValidationError } from '../../core/errors.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { WebhookDeliveryJobSchema, type WebhookDeliveryJob } from '../../schemas/jobs.ts';

/** What travels on the queue: the contract plus which series and attempt this job is. */
export const DeliveryAttemptJobSchema = WebhookDeliveryJobSchema.extend({
  series: z.number().int().min(1).default(1),
  attempt: z.number().int().min(1).default(1),
});
export type DeliveryAttemptJob = z.output<typeof DeliveryAttemptJobSchema>;

/** The BullMQ job name of a delivery. */
export const DELIVERY_JOB_NAME = 'deliver';

/**
 * Options for producers that add delivery jobs themselves: the job id is the idempotency key. BullMQ's
 * own attempts only cover a job that fails outright (a worker crash); HTTP retries and outages of the
 * delivery log move the job back to delayed themselves, without spending these.
 */
export function deliveryJobOptions(jobId: string): JobsOptions {
  return {
    jobId,
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

export function deliveryQueue(rt: Runtime): Queue {
  return new Queue(rt.names.queues.webhookDeliveries, { connection: rt.redis, prefix: rt.names.bullPrefix });
}

// One queue per runtime, on the runtime's shared Redis connection: closing it is never needed, since a
// Queue does not own a connection it was given.
const queues = new WeakMap<Runtime, Queue>();

/**
 * Enqueues a delivery for the webhook service (producers: the automations service, replays). The job id
 * is the idempotency key, so enqueuing the same delivery twice sends it once; a replay passes its series
 * number, which makes its job id new. Returns the BullMQ job id. Throws ValidationError (400) when `job`
 * breaks the WebhookDeliveryJob contract.
 */
export async function enqueueDelivery(rt: Runtime, job: WebhookDeliveryJob, options: { series?: number } = {}): Promise<string> {
  const parsed = WebhookDeliveryJobSchema.safeParse(job);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new ValidationError(`not a valid webhook delivery: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  const series = options.series ?? 1;
  const jobId = series === 1 ? parsed.data.idempotency_key : `${parsed.data.idempotency_key}-replay-${series}`;
  let queue = queues.get(rt);
  if (!queue) {
    queue = deliveryQueue(rt);
    queues.set(rt, queue);
  }
  await queue.add(DELIVERY_JOB_NAME, { ...parsed.data, series, attempt: 1 } satisfies DeliveryAttemptJob, deliveryJobOptions(jobId));
  return jobId;
}
