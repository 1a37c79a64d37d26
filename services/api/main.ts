import { asListenError } from '../../infra/listen.ts';
import type { Runtime } from '../../infra/runtime.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { buildApp } from './app.ts';
import type { ApiApp } from './route-module.ts';

export interface ApiService extends Service {
  /** Where the API listens once started (with the real port when REFLEX_PORT=0). */
  readonly url: string;
}

/** The HTTP API: ingest, queries, automations, deployments, flow runs and webhooks. */
export function createApiService(rt: Runtime, modules: Modules): ApiService {
  let app: ApiApp | undefined;
  let address = '';
  return {
    name: 'api',
    get url() {
      return address;
    },
    async start() {
      app = await buildApp(rt, modules);
      try {
        address = await app.listen({ host: rt.config.host, port: rt.config.port });
      } catch (err) {
        await app.close().catch(() => {});
        throw asListenError(err, rt.config.host, rt.config.port) ?? err;
      }
    },
    async stop() {
      await app?.close();
    },
    describe: () => `listening on ${address} (${rt.config.dashboard ? `dashboard at ${address}/, ` : ''}OpenAPI at ${address}/api/docs, reference at ${address}/api/reference)`,
  };
}
