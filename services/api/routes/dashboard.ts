import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { ASSET_TYPES, DASHBOARD_PAGES, loadDashboard, SECURITY_HEADERS } from '../dashboard-static.ts';
import type { RouteModule } from '../route-module.ts';

const AssetParams = z.object({ file: z.string().max(200) });

/**
 * The dashboard at `/` (REFLEX_DASHBOARD): its page paths answer the shell, `/assets/<file>` the bundle.
 * Public, since they hold no data, and left out of the OpenAPI document: they are a web page, not the API.
 */
export const dashboardRoutes: RouteModule = async (app, { rt }) => {
  if (!rt.config.dashboard) return;
  const bundle = await loadDashboard(rt.log.child({ service: 'api' }));
  if (!bundle) return;

  const config = { public: true };
  const schema = { hide: true };
  const page = async (_req: unknown, reply: FastifyReply) =>
    reply.headers({ ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }).send(bundle.index);
  app.get('/', { config, schema }, page);
  for (const p of DASHBOARD_PAGES) {
    app.get(`/${p}`, { config, schema }, page);
    app.get(`/${p}/*`, { config, schema }, page);
  }
  app.get('/assets/:file', { config, schema: { hide: true, params: AssetParams } }, async (req, reply) => {
    const body = bundle.assets.get(req.params.file);
    reply.headers(SECURITY_HEADERS);
    if (!body) throw new NotFoundError('asset', req.params.file);
    // Names are content hashes: a changed file has a new name, so browsers may keep these forever.
    return reply.headers({ 'content-type': ASSET_TYPES[req.params.file.split('.').pop() ?? ''], 'cache-control': 'public, max-age=31536000, immutable' }).send(body);
  });
};
