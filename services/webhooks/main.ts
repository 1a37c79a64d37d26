import { Worker } from 'bullmq';
import type { Runtime, Service } from '../../core/runtime.ts';
import { WORKER_LOCKS } from '../../core/worker-locks.ts';
import { AddressGuard } from './address-guard.ts';
import { DeliveryProcessor } from './delivery.ts';
import { DeliveryLog } from './log-writer.ts';

/** The webhook service: delivers the jobs of the webhook-deliveries queue. Any number of replicas. */
export function createWebhooksService(rt: Runtime): Service {
  const log = rt.log.child({ service: 'webhooks' });
  const processor = new DeliveryProcessor(rt, new AddressGuard(rt.config.webhookAllowHosts), new DeliveryLog(rt.pg, log), log);
  let worker: Worker | undefined;
  return {
    name: 'webhooks',
    async start() {
      worker = new Worker(rt.names.queues.webhookDeliveries, (job, token) => processor.process(job, token), {
        connection: rt.redisConnection('webhooks'),
        prefix: rt.names.bullPrefix,
        concurrency: rt.config.webhookWorkerConcurrency,
        // A killed replica's deliveries in flight are sent again within seconds, not a minute.
        ...WORKER_LOCKS,
        // For producers that enqueue without these: the delivery log in Postgres is the record, and a
        // re-enqueued delivery whose job is gone is recognised there (see staleReason in delivery.ts).
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
      worker.on('error', (err) => log.error({ err }, 'webhook worker error'));
      worker.on('failed', (job, err) => log.warn({ job_id: job?.id, err: err.message }, 'delivery job failed'));
    },
    async stop() {
      await worker?.close();
    },
    describe: () =>
      `delivering webhooks (${rt.config.webhookWorkerConcurrency} at once, ${rt.config.webhookHostConcurrency} per host; allow list: ${rt.config.webhookAllowHosts.join(', ') || 'none'})`,
  };
}
