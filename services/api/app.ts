import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { ReflexError, ValidationError } from '../../core/errors.ts';
import { jsonValueIssues } from '../../core/json.ts';
import type { Runtime } from '../../infra/runtime.ts';
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

  // Every JSON body (CloudEvents content types are JSON too) is checked for what PostgreSQL cannot store
  // and for hostile nesting before any route sees it: a 400 naming the field, never a 500 later or a
  // value acknowledged and then refused by the database. Anything else reaches the route as a raw Buffer
  // (CloudEvents binary mode).
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    ['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json'],
    { parseAs: 'string' },
    (req, body, done) =>
      parseJson(req, body as string, (err, value) => {
        if (err) return done(err);
        const issues = jsonValueIssues(value);
        if (issues.length === 0) return done(null, value);
        const first = issues[0];
        done(new ValidationError(`invalid JSON body: ${first.path || '(root)'}: ${first.message}`, issues));
      }),
  );
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  registerApiKeyCheck(app, rt.config.apiKey);

  app.setErrorHandler((error: FastifyError | ReflexError, req, reply) => {
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
