import type { Worker } from 'bullmq';
import { JOBS } from '../../core/jobs.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { AddressGuard, DeliveryLog, WebhookSender } from '../../modules/webhooks/index.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { DeliveryProcessor } from './delivery.ts';
import { ClaimSweeper } from './claim-sweeper.ts';

/**
 * The webhook service: delivers the jobs of the webhook-deliveries queue (retries, replays, deliveries
 * whose host was busy or unhealthy for a direct attempt), and queues the direct deliveries whose claim ran
 * out (their automations process died mid-attempt). Any number of replicas.
 */
export function createWebhooksService(rt: Runtime, modules: Modules): Service {
  const log = rt.log.child({ service: 'webhooks' });
  const { webhookAllowHosts, webhookHostConcurrency, webhookWorkerConcurrency } = rt.config;
  // One host may hold at most half the worker slots (in flight plus waiting), so the others keep flowing:
  // a per-host limit above that (64 by default against 100 slots) is held to it here.
  const hostShare = Math.max(1, Math.floor(webhookWorkerConcurrency / 2));
  const hostLimit = Math.min(webhookHostConcurrency, hostShare);
  const hostWaiting = hostShare - hostLimit;
  const sender = new WebhookSender(rt.bus, new AddressGuard(webhookAllowHosts), new DeliveryLog(rt.pg, log), log, rt.metrics, modules.deliverySecrets);
  const processor = new DeliveryProcessor(sender, hostLimit, hostWaiting, log);
  const sweeper = new ClaimSweeper(rt.pg, modules.deliveries, log);
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
      sweeper.start();
    },
    async stop() {
      await sweeper.stop();
      await worker?.close();
    },
    describe: () =>
      `delivering webhooks (${webhookWorkerConcurrency} at once, ${hostLimit} per host, ${hostWaiting} more waiting; allow list: ${webhookAllowHosts.join(', ') || 'none'})`,
  };
}
