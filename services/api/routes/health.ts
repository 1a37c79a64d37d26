import type { RouteModule } from '../app.ts';

/** Reports each dependency's state; answers 503 when any is down so load balancers take the replica out. */
export const healthRoutes: RouteModule = (app, { rt, docs }) => {
  docs.add({ method: 'get', path: '/api/health', summary: 'State of NATS, Redis and PostgreSQL', tags: ['health'] });
  app.get('/api/health', { config: { public: true } }, async (_req, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      const started = performance.now();
      try {
        await fn();
        return { status: 'up', latency_ms: Math.round((performance.now() - started) * 100) / 100 };
      } catch (err) {
        return { status: 'down', error: err instanceof Error ? err.message : String(err) };
      }
    };
    const [nats, redis, postgres] = await Promise.all([
      check(() => rt.nats.flush()),
      check(() => rt.redis.ping()),
      check(() => rt.pg.query('SELECT 1')),
    ]);
    const ok = [nats, redis, postgres].every((d) => d.status === 'up');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', namespace: rt.config.namespace, dependencies: { nats, redis, postgres } });
  });
};
