import { z } from 'zod';
import type { Runtime } from '../../../infra/runtime.ts';
import { ingestLag } from '../ingest-lag.ts';
import type { RouteModule } from '../route-module.ts';

/**
 * How long one dependency check may take. The three run in parallel, so /api/health answers within this
 * (plus serialisation) whatever is down: a probe reads `down` instead of timing out.
 */
export const HEALTH_CHECK_TIMEOUT_MS = 700;

const DependencySchema = z.object({
  status: z.enum(['up', 'down']),
  /** How long the check took (for a check that timed out: the timeout). */
  latency_ms: z.number(),
  /** Why it is down: the client's error, its connection state, or the timeout. */
  error: z.string().optional(),
});
const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  namespace: z.string(),
  dependencies: z.object({ nats: DependencySchema, redis: DependencySchema, postgres: DependencySchema }),
  /** How far behind the engine is, as ingest sees it; `overloaded`: ingest answers 503 (REFLEX_INGEST_MAX_LAG). */
  ingest: z.object({
    lag: z.number().int(),
    recorder: z.number().int(),
    automations: z.number().int(),
    bound: z.number().int(),
    overloaded: z.boolean(),
    read_at: z.string().nullable(),
  }),
});
const LiveSchema = z.object({ status: z.literal('ok') });

type DependencyHealth = z.output<typeof DependencySchema>;

/** Runs one check against a deadline; never rejects and never waits longer than the timeout. */
async function check(fn: () => Promise<unknown>, timeoutMs: number): Promise<DependencyHealth> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([fn(), deadline]);
    return { status: 'up', latency_ms: elapsed() };
  } catch (err) {
    return { status: 'down', latency_ms: elapsed(), error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The three checks, in parallel. A client that knows it is disconnected answers at once: ioredis would
 * otherwise queue the PING until Redis is back (commands wait forever under `maxRetriesPerRequest: null`,
 * which BullMQ needs), so a late PING is never even sent.
 */
export async function dependencyHealth(rt: Runtime, timeoutMs = HEALTH_CHECK_TIMEOUT_MS): Promise<{ ok: boolean; dependencies: Record<'nats' | 'redis' | 'postgres', DependencyHealth> }> {
  const [nats, redis, postgres] = await Promise.all([
    check(async () => {
      if (rt.nats.isClosed()) throw new Error('connection closed');
      await rt.nats.flush();
    }, timeoutMs),
    check(async () => {
      if (rt.redis.status !== 'ready') throw new Error(`connection ${rt.redis.status}`);
      await rt.redis.ping();
    }, timeoutMs),
    check(() => rt.pg.query('SELECT 1'), timeoutMs),
  ]);
  return { ok: [nats, redis, postgres].every((d) => d.status === 'up'), dependencies: { nats, redis, postgres } };
}

/**
 * `/api/health`: each dependency's state, 503 when any is down. For Kubernetes, `/api/health/live` says
 * only that the process serves HTTP (restarting it cannot bring Redis back, so it never checks
 * dependencies), and `/api/health/ready` is 503 while a dependency is down, taking the replica out of the
 * load balancer until it can serve.
 */
export const healthRoutes: RouteModule = (app, { rt }) => {
  // A lagging engine stays in the load balancer (every replica shares the lag); ingest itself pushes back.
  const report = async () => {
    const [{ ok, dependencies }, ingest] = await Promise.all([dependencyHealth(rt), ingestLag(rt).readWithin(HEALTH_CHECK_TIMEOUT_MS)]);
    return { ok, body: { status: ok ? ('ok' as const) : ('degraded' as const), namespace: rt.config.namespace, dependencies, ingest } };
  };
  app.get(
    '/api/health',
    {
      config: { public: true },
      schema: { operationId: 'getHealth', tags: ['health'], summary: 'State of NATS, Redis and PostgreSQL', response: { 200: HealthSchema, 503: HealthSchema } },
    },
    async (_req, reply) => {
      const { ok, body } = await report();
      return reply.code(ok ? 200 : 503).send(body);
    },
  );
  app.get(
    '/api/health/ready',
    {
      config: { public: true },
      schema: { operationId: 'getReadiness', tags: ['health'], summary: 'Readiness probe: 503 while any dependency is down', response: { 200: HealthSchema, 503: HealthSchema } },
    },
    async (_req, reply) => {
      const { ok, body } = await report();
      return reply.code(ok ? 200 : 503).send(body);
    },
  );
  app.get(
    '/api/health/live',
    {
      config: { public: true },
      schema: { operationId: 'getLiveness', tags: ['health'], summary: 'Liveness probe: the process answers HTTP', response: { 200: LiveSchema } },
    },
    async () => ({ status: 'ok' as const }),
  );
};
