import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis } from '../infra/connections.ts';
import { names } from '../core/names.ts';
import type { ServiceProcessName } from './supervisor.ts';

/** The BullMQ jobs a process had in hand when it was killed, and when each was handed back. */
export interface HeldJobs {
  /** Job id -> what the job is about: a delivery's triggering event, or a flow run. */
  jobs: Map<string, { eventId?: string; flowRunId?: string }>;
  /** Job id -> when BullMQ's stalled check put it back in the queue (epoch ms). */
  stalledAt: Map<string, number>;
}

/**
 * Watches the queue the killed service works from: listens for BullMQ's `stalled` events from before the
 * kill, and reads the jobs active on the queue right after it, before the restart: with a single replica
 * and its process gone, exactly what the dead process held. The events then say when each was handed
 * back. JetStream does not list the messages a consumer holds; for the recorder and automations the work
 * accepted before the fault stands in for them.
 */
export class HeldJobsWatch {
  private constructor(
    private readonly connections: Redis[],
    private readonly events: QueueEvents,
    private readonly queue: Queue,
    readonly held: HeldJobs,
  ) {}

  static async start(redisUrl: string, namespace: string, service: ServiceProcessName): Promise<HeldJobsWatch | undefined> {
    const n = names(namespace);
    const queueName = service === 'webhooks' ? n.queues.webhookDeliveries : service === 'worker' ? n.queues.workPool('default') : null;
    if (!queueName) return undefined;
    const redis = await connectRedis(redisUrl, 3000, 'faults-watch');
    const held: HeldJobs = { jobs: new Map(), stalledAt: new Map() };
    // QueueEvents blocks on its connection, so it gets one of its own.
    const blocking = redis.duplicate();
    const events = new QueueEvents(queueName, { connection: blocking, prefix: n.bullPrefix });
    events.on('stalled', ({ jobId }) => held.stalledAt.set(jobId, Date.now()));
    events.on('error', () => {});
    await events.waitUntilReady();
    const queue = new Queue(queueName, { connection: redis, prefix: n.bullPrefix });
    return new HeldJobsWatch([redis, blocking], events, queue, held);
  }

  /** Call after the kill and before the restart: the jobs still active are the dead process's. */
  async sampleHeld(): Promise<void> {
    for (const job of await this.queue.getActive()) {
      const data = (job.data ?? {}) as { event_id?: unknown; flow_run_id?: unknown };
      this.held.jobs.set(String(job.id), {
        ...(typeof data.event_id === 'string' ? { eventId: data.event_id } : {}),
        ...(typeof data.flow_run_id === 'string' ? { flowRunId: data.flow_run_id } : {}),
      });
    }
  }

  async stop(): Promise<void> {
    await this.queue.close().catch(() => {});
    await this.events.close().catch(() => {});
    for (const r of this.connections) r.disconnect();
  }
}
