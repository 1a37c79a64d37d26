import { z } from 'zod';
import { ingestLag } from '../ingest-lag.ts';
import type { RouteModule } from '../route-module.ts';

const DependencySchema = z.object({
  status: z.enum(['up', 'down']),
  latency_ms: z.number().optional(),
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

/** Reports each dependency's state; answers 503 when any is down so load balancers take the replica out. */
export const healthRoutes: RouteModule = (app, { rt }) => {
  app.get(
    '/api/health',
    {
      config: { public: true },
      schema: { operationId: 'getHealth', tags: ['health'], summary: 'State of NATS, Redis and PostgreSQL', response: { 200: HealthSchema, 503: HealthSchema } },
    },
    async (_req, reply) => {
      const check = async (fn: () => Promise<unknown>): Promise<z.output<typeof DependencySchema>> => {
        const started = performance.now();
        try {
          await fn();
          return { status: 'up', latency_ms: Math.round((performance.now() - started) * 100) / 100 };
        } catch (err) {
          return { status: 'down', error: err instanceof Error ? err.message : String(err) };
        }
      };
      const [nats, redis, postgres, ingest] = await Promise.all([
        check(() => rt.nats.flush()),
        check(() => rt.redis.ping()),
        check(() => rt.pg.query('SELECT 1')),
        ingestLag(rt).read(),
      ]);
      const ok = [nats, redis, postgres].every((d) => d.status === 'up');
      // A lagging engine stays in the load balancer (every replica shares the lag); ingest itself pushes back.
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', namespace: rt.config.namespace, dependencies: { nats, redis, postgres }, ingest });
    },
  );
};
