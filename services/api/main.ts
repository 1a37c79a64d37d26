import type { FastifyInstance } from 'fastify';
import type { Runtime, Service } from '../../infra/runtime.ts';
import { buildApp } from './app.ts';

export interface ApiService extends Service {
  /** Where the API listens once started (with the real port when REFLEX_PORT=0). */
  readonly url: string;
}

/** The HTTP API: ingest, queries, automations, deployments, flow runs and webhooks. */
export function createApiService(rt: Runtime): ApiService {
  let app: FastifyInstance | undefined;
  let address = '';
  return {
    name: 'api',
    get url() {
      return address;
    },
    async start() {
      app = await buildApp(rt);
      address = await app.listen({ host: rt.config.host, port: rt.config.port });
    },
    async stop() {
      await app?.close();
    },
    describe: () => `listening on ${address} (OpenAPI at ${address}/api/docs)`,
  };
}
