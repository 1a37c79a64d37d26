import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { ReflexError, type DependencyUnavailableError } from '../../core/errors.ts';
import type { Runtime } from '../../core/runtime.ts';
import { asDependencyUnavailable } from '../../core/unavailable.ts';
import { registerApiKeyCheck } from './auth.ts';
import { OpenApiRegistry } from './openapi.ts';
import { routeModules } from './routes/index.ts';

export interface ApiContext {
  rt: Runtime;
  docs: OpenApiRegistry;
}

/** A route module: registers its routes and documents them in the OpenAPI registry. */
export type RouteModule = (app: FastifyInstance, ctx: ApiContext) => void | Promise<void>;

/** Fastify's own error codes that are the client's fault, with the status they answer. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_request' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_request' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_request' },
  FST_ERR_VALIDATION: { status: 400, code: 'invalid_request' },
};

/** What a 503 for an unavailable dependency tells the client to wait before retrying. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Logs an outage once per dependency every 10 s (a 503 per request at full rate would flood the log), with
 * how many requests it refused in between.
 */
function outageLogger(rt: Runtime): (err: DependencyUnavailableError) => void {
  const last = new Map<string, { at: number; refused: number }>();
  return (err) => {
    const seen = last.get(err.dependency) ?? { at: 0, refused: 0 };
    seen.refused += 1;
    last.set(err.dependency, seen);
    if (Date.now() - seen.at < 10_000) return;
    rt.log.warn({ service: 'api', dependency: err.dependency, refused: seen.refused, err }, `${err.dependency} unavailable: answering 503`);
    last.set(err.dependency, { at: Date.now(), refused: 0 });
  };
}

/** Builds the API without listening, so tests drive it with `app.inject()` or a real port alike. */
export async function buildApp(rt: Runtime): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: rt.log.child({ service: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: rt.config.maxBodyBytes,
    trustProxy: true,
    // Longer than the idle timeout of common clients and proxies, so a reused connection is never
    // closed under a request in flight (an ECONNRESET for the client).
    keepAliveTimeout: 65_000,
  });
  const docs = new OpenApiRegistry();

  // CloudEvents content types are JSON; anything else reaches the route as a raw Buffer (binary mode).
  app.addContentTypeParser(
    ['application/cloudevents+json', 'application/cloudevents-batch+json'],
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'ignore'),
  );
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  registerApiKeyCheck(app, rt.config.apiKey);

  const logOutage = outageLogger(rt);
  app.setErrorHandler((error: FastifyError | ReflexError, req, reply) => {
    // Before the other cases: an outage is the server's condition, not the request's fault, and it is
    // answered at once, so a client (or load balancer) backs off and retries.
    const unavailable = asDependencyUnavailable(error, rt.config);
    if (unavailable) {
      logOutage(unavailable);
      return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ error: unavailable.toJSON() });
    }
    if (error instanceof ReflexError) {
      if (error.status >= 500) req.log.error({ err: error }, error.message);
      return reply.code(error.status).send({ error: error.toJSON() });
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
    if (known || (error.statusCode && error.statusCode < 500)) {
      const status = known?.status ?? error.statusCode ?? 400;
      return reply.code(status).send({ error: { code: known?.code ?? 'invalid_request', message: error.message, issues: [] } });
    }
    req.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error; see the server log', issues: [] } });
  });

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}`, issues: [] } }),
  );

  const ctx: ApiContext = { rt, docs };
  for (const register of routeModules) await register(app, ctx);

  app.get('/api/docs', async () => docs.document(rt.config.publicUrl));
  return app;
}
