import type { RouteModule } from '../route-module.ts';

/**
 * GET /metrics: this process's Prometheus metrics (infra/metrics.ts, docs/operations.md). Behind the API key
 * when one is set (Prometheus sends it with `authorization`); left out of the OpenAPI document, since it is
 * the Prometheus text format, not JSON.
 */
export const metricsRoutes: RouteModule = (app, { rt }) => {
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const text = await rt.metrics.scrape();
    return reply.header('content-type', rt.metrics.contentType).header('cache-control', 'no-store').send(text);
  });
};
