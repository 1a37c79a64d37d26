import { Queue } from 'bullmq';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { isConsumerNotFound } from '../infra/nats-errors.ts';
import { AUTOMATIONS_READS } from './e2e-report.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import { hopTimes, type Backlog, type HopTimes } from './e2e-hops.ts';
import { automation } from './e2e-scenario.ts';

/**
 * The bench's own view of an engine under test, through connections of its own to the same namespace:
 * whether it still holds a backlog, what its events stream holds, and the reset at the end.
 */
export interface EngineProbe {
  rt: Runtime;
  /** No message pending or unacknowledged on the recorder and automations consumers, no job in a queue. */
  idle(): Promise<boolean>;
  /** Messages of the events stream per event name (the subject prefix removed). */
  stream(): Promise<Record<string, number>>;
  /** What waits at each hop of the engine now. */
  backlog(): Promise<Omit<Backlog, 'ingest' | 'outstanding'>>;
  hops(from: number, to: number): Promise<HopTimes>;
  /** Deletes everything of the namespace (unless BENCH_KEEP is set) and closes the connections. */
  close(): Promise<void>;
}

export async function openProbe(namespace: string, env: Record<string, string>): Promise<EngineProbe> {
  const config = loadConfig({ ...process.env, ...env }, { namespace, logLevel: 'error' });
  // The engine prepared the stream and schema; the probe only reads.
  const rt = await openRuntime(config, createLogger({ level: 'error' }), { prepare: false });
  const n = rt.names;
  const queues = [n.queues.webhookDeliveries, n.queues.automationActions].map((q) => new Queue(q, { connection: rt.redis, prefix: n.bullPrefix }));
  const pending = async (durable: string) => {
    const info = await rt.bus.jsm.consumers.info(n.streams.events, durable).catch((err: unknown) => {
      // The engine's events consumer exists only while an automation can match one of them.
      if (durable === n.consumers.automationsEngine && isConsumerNotFound(err)) return null;
      throw err;
    });
    return info ? info.num_pending + info.num_ack_pending : 0;
  };
  return {
    rt,
    async backlog() {
      const [recorder, users, engine, jobs] = await Promise.all([
        pending(n.consumers.recorder),
        pending(n.consumers.automations),
        pending(n.consumers.automationsEngine),
        queues[0].getJobCounts('waiting', 'prioritized', 'delayed', 'active'),
      ]);
      return { recorder, automations: users + engine, webhook_waiting: jobs.waiting + jobs.prioritized, webhook_delayed: jobs.delayed, webhook_active: jobs.active };
    },
    hops: (from, to) => hopTimes(rt.pg, from, to),
    async idle() {
      for (const durable of [n.consumers.recorder, n.consumers.automations, n.consumers.automationsEngine]) if ((await pending(durable)) > 0) return false;
      for (const q of queues) {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children');
        if (Object.values(counts).some((c) => c > 0)) return false;
      }
      return true;
    },
    async stream() {
      const info = await rt.bus.jsm.streams.info(n.streams.events, { subjects_filter: '>' });
      const out: Record<string, number> = {};
      for (const [subject, count] of Object.entries(info.state.subjects ?? {})) out[n.eventNameFromSubject(subject)] = count;
      // What the automations service was handed (redeliveries included), next to what the stream holds.
      let reads = 0;
      for (const durable of [n.consumers.automations, n.consumers.automationsEngine]) {
        const c = await rt.bus.jsm.consumers.info(n.streams.events, durable).catch((err: unknown) => {
          if (durable === n.consumers.automationsEngine && isConsumerNotFound(err)) return null;
          throw err;
        });
        reads += c?.delivered.consumer_seq ?? 0;
      }
      out[AUTOMATIONS_READS] = reads;
      return out;
    },
    async close() {
      for (const q of queues) await q.close().catch(() => {});
      if (!process.env.BENCH_KEEP) await resetNamespace(rt).catch((err) => process.stderr.write(`[bench e2e] reset of ${namespace} failed: ${err}\n`));
      await rt.close();
    },
  };
}

/** Creates the scenario's automation through the API, as a user does. */
export async function createAutomation(apiUrl: string, receiverUrl: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (process.env.REFLEX_API_KEY) headers.authorization = `Bearer ${process.env.REFLEX_API_KEY}`;
  const res = await fetch(`${apiUrl}/api/automations`, { method: 'POST', headers, body: JSON.stringify(automation(receiverUrl)) });
  if (res.status !== 201) throw new Error(`could not create the bench automation: ${res.status} ${await res.text()}`);
}
