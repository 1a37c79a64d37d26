import type { Worker } from 'bullmq';
import { JOBS } from '../../core/jobs.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { DeliveryLog } from '../../modules/webhooks/index.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { AddressGuard } from './address-guard.ts';
import { DeliveryProcessor } from './delivery.ts';
import { SecretFiller } from './secret-fill.ts';

/** The webhook service: delivers the jobs of the webhook-deliveries queue. Any number of replicas. */
export function createWebhooksService(rt: Runtime, modules: Modules): Service {
  const log = rt.log.child({ service: 'webhooks' });
  const { webhookAllowHosts, webhookHostConcurrency, webhookWorkerConcurrency } = rt.config;
  // One host may hold at most half the worker slots (in flight plus waiting), so the others keep flowing.
  const hostWaiting = Math.max(0, Math.floor(webhookWorkerConcurrency / 2) - webhookHostConcurrency);
  const processor = new DeliveryProcessor(rt.bus, webhookHostConcurrency, hostWaiting, new AddressGuard(webhookAllowHosts), new DeliveryLog(rt.pg, log), log, rt.metrics, new SecretFiller(rt.pg, modules.secrets));
  let worker: Worker | undefined;
  return {
    name: 'webhooks',
    async start() {
      worker = rt.queues.worker(JOBS.webhookDelivery, [], (job, token) => processor.process(job, token), {
        connectionName: 'webhooks',
        concurrency: webhookWorkerConcurrency,
        autoPipelining: true,
      });
      worker.on('error', (err) => log.error({ err }, 'webhook worker error'));
      worker.on('failed', (job, err) => log.warn({ job_id: job?.id, err: err.message }, 'delivery job failed'));
    },
    async stop() {
      await worker?.close();
    },
    describe: () =>
      `delivering webhooks (${webhookWorkerConcurrency} at once, ${webhookHostConcurrency} per host, ${hostWaiting} more waiting; allow list: ${webhookAllowHosts.join(', ') || 'none'})`,
  };
}
