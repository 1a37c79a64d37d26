import { Queue } from 'bullmq';
import { connectRedis } from '../core/connections.ts';
import { names } from '../core/names.ts';
import { bullConnection } from '../services/orchestration/enqueue.ts';
import type { ServiceProcessName } from './supervisor.ts';

/** The BullMQ jobs a process had in hand when it was killed. */
export interface HeldJobs {
  /** Triggering event ids of the webhook deliveries in flight. */
  deliveries: string[];
  /** Flow runs being run. */
  runs: string[];
}

/**
 * Reads, just before a kill, the jobs active on the queue the killed service works from: with a single
 * replica, exactly what the dying process holds. The recovery report then times how long each took to be
 * taken up again, apart from the backlog. (JetStream does not list the messages a consumer holds; for the
 * recorder and automations the work accepted before the fault stands in for them.)
 */
export async function sampleHeldJobs(redisUrl: string, namespace: string, service: ServiceProcessName): Promise<HeldJobs | undefined> {
  const n = names(namespace);
  const queueName = service === 'webhooks' ? n.queues.webhookDeliveries : service === 'worker' ? n.queues.workPool('default') : null;
  if (!queueName) return undefined;
  const redis = await connectRedis(redisUrl, 3000, 'faults-sampler');
  const queue = new Queue(queueName, { connection: bullConnection(redis), prefix: n.bullPrefix });
  try {
    const active = await queue.getActive();
    const field = (data: unknown, key: string) => {
      const value = (data as Record<string, unknown> | null)?.[key];
      return typeof value === 'string' ? [value] : [];
    };
    return service === 'webhooks'
      ? { deliveries: active.flatMap((j) => field(j.data, 'event_id')), runs: [] }
      : { deliveries: [], runs: active.flatMap((j) => field(j.data, 'flow_run_id')) };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}
