import { createServer, type Server } from 'node:http';
import { JOBS } from '../core/jobs.ts';
import type { Runtime } from '../infra/runtime.ts';
import { countDeadLetters } from '../modules/events/index.ts';
import { outboxBacklog } from '../modules/runs/index.ts';
import { keyMatches } from './api/key-match.ts';

/** The BullMQ states a queue depth is reported in (completed jobs are removed, so not a depth). */
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused', 'failed'] as const;

/**
 * Registers the gauges read on scrape: they describe the namespace (the stream's consumers, the queues,
 * the tables), so every process reports the same values — aggregate them with max(), not sum().
 */
export function registerCollectors(rt: Runtime): void {
  const m = rt.metrics;
  m.addCollector(
    'nats',
    async () => {
      const list = await rt.bus.jsm.consumers.list(rt.names.streams.events).next();
      return () => {
        m.consumerPending.reset();
        m.consumerAckPending.reset();
        m.consumerRedelivered.reset();
        for (const c of list) {
          m.consumerPending.set({ consumer: c.name }, c.num_pending);
          m.consumerAckPending.set({ consumer: c.name }, c.num_ack_pending);
          m.consumerRedelivered.set({ consumer: c.name }, c.num_redelivered);
        }
      };
    },
    [m.consumerPending, m.consumerAckPending, m.consumerRedelivered],
  );
  m.addCollector(
    'redis',
    async () => {
      // The fixed queues and one per work pool (a pool exists as a row before its first job).
      const pools = await rt.pg.query<{ name: string }>('SELECT name FROM work_pools ORDER BY name LIMIT 1000');
      const names = [JOBS.webhookDelivery.queue(rt.names), JOBS.automationAction.queue(rt.names), ...pools.rows.map((p) => JOBS.flowRun.queue(rt.names, p.name))];
      const counts = await Promise.all(names.map((n) => rt.queues.byName(n).getJobCounts(...QUEUE_STATES)));
      return () => {
        m.queueJobs.reset();
        names.forEach((queue, i) => {
          for (const state of QUEUE_STATES) m.queueJobs.set({ queue, state }, counts[i][state] ?? 0);
        });
      };
    },
    [m.queueJobs],
  );
  m.addCollector(
    'postgres',
    async () => {
      const [dead, outbox, runs] = await Promise.all([
        countDeadLetters(rt.pg),
        outboxBacklog(rt.pg),
        rt.pg.query<{ state: string; n: number }>('SELECT state_type AS state, count(*)::int AS n FROM flow_runs GROUP BY 1'),
      ]);
      return () => {
        m.deadLetters.set(dead);
        m.outboxBacklog.set(outbox);
        m.flowRuns.reset();
        for (const r of runs.rows) m.flowRuns.set({ state: r.state }, r.n);
      };
    },
    [m.deadLetters, m.outboxBacklog, m.flowRuns],
  );
}

/**
 * The metrics listener of a process that runs no API (`reflex start worker` alone): GET /metrics on
 * REFLEX_METRICS_PORT, nothing else, behind the API key when one is set. A port already taken (several such processes on one host) is a
 * warning, not a failed start: the engine's work matters more than its metrics.
 */
export async function startMetricsListener(rt: Runtime): Promise<{ url: string; close(): Promise<void> } | undefined> {
  const port = rt.config.metricsPort;
  if (port === 0) return undefined;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    // Same rule as the API: with REFLEX_API_KEY set, a scraper sends it (Prometheus `authorization`).
    if (rt.config.apiKey && !keyMatches(req.headers.authorization, `Bearer ${rt.config.apiKey}`)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('missing or wrong API key: send `Authorization: Bearer <REFLEX_API_KEY>`\n');
      return;
    }
    rt.metrics.scrape().then(
      (text) => res.writeHead(200, { 'content-type': rt.metrics.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  server.requestTimeout = 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, rt.config.host, () => resolve());
    });
  } catch (err) {
    rt.log.warn({ err, port, host: rt.config.host }, `metrics not served: ${rt.config.host}:${port} is not available (set REFLEX_METRICS_PORT, or 0 to turn the listener off)`);
    return undefined;
  }
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${rt.config.host}:${bound}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
