import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError } from 'fastify';
import { createJsonSchemaTransform, createJsonSchemaTransformObject, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { IngestOverloadedError, ReflexError, ValidationError, type DependencyUnavailableError, type ErrorCode } from '../../core/errors.ts';
import { jsonTextIsStorable, jsonValueIssues, markStorable } from '../../core/json.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { asDependencyUnavailable } from '../../infra/unavailable.ts';
import { ErrorResponseSchema } from '../../schemas/common.ts';
import type { Modules } from '../modules.ts';
import { registerApiKeyCheck } from './auth.ts';
import { errorBody } from './error-body.ts';
import { lazyChildLoggerFactory } from './lazy-logger.ts';
import { apiComponents } from './components.ts';
import type { ApiApp } from './route-module.ts';
import { routeModules } from './routes/index.ts';
import { serializerCompiler, validatorCompiler } from './schema-compilers.ts';

/** Fastify's own error codes that are the client's fault, with the code they answer. */
const FASTIFY_CLIENT_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** The interactive API reference; its page and assets are public, the document it shows is not. */
export const API_REFERENCE_PREFIX = '/api/reference';

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
export async function buildApp(rt: Runtime, modules: Modules): Promise<ApiApp> {
  const app = Fastify({
    loggerInstance: rt.log.child({ service: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // req.log makes its pino child only when the request logs: most never do.
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: rt.config.maxBodyBytes,
    trustProxy: true,
    // Longer than the idle timeout of common clients and proxies, so a reused connection is never
    // closed under a request in flight (an ECONNRESET for the client).
    keepAliveTimeout: 65_000,
    // A client that trickles its headers or body is cut off with a 408 (slowloris held sockets for over
    // 330 s); Node checks the deadlines every connectionsCheckingInterval.
    requestTimeout: rt.config.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(10_000, Math.ceil(rt.config.requestTimeoutMs / 3)),
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(rt.config.requestTimeoutMs / 4)),
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

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
        // Reading the text is cheaper than walking the value: the walk runs only when the text has a
        // suspect escape or character, or deep nesting, and then it finds the issue (or clears the doubt).
        const issues = jsonTextIsStorable(body as string) ? [] : jsonValueIssues(value);
        if (issues.length === 0) {
          // Ingest then skips the same walk over each event's parts.
          markStorable(value);
          return done(null, value);
        }
        const first = issues[0];
        done(new ValidationError(`invalid JSON body: ${first.path || '(root)'}: ${first.message}`, issues));
      }),
  );
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  registerApiKeyCheck(app, rt.config.apiKey, { publicPrefixes: [API_REFERENCE_PREFIX] });

  const logOutage = outageLogger(rt);
  app.setErrorHandler((error: FastifyError | ReflexError, req, reply) => {
    // Before the other cases: an outage is the server's condition, not the request's fault, and it is
    // answered at once, so a client (or load balancer) backs off and retries.
    const unavailable = asDependencyUnavailable(error, rt.config);
    if (unavailable) {
      logOutage(unavailable);
      return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send(errorBody(unavailable));
    }
    if (error instanceof IngestOverloadedError) return reply.code(503).header('retry-after', String(error.retryAfterSeconds)).send(errorBody(error));
    if (error instanceof ReflexError) {
      if (error.status >= 500) req.log.error({ err: error }, error.message);
      return reply.code(error.status).send(errorBody(error));
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
    if (known || (error.statusCode && error.statusCode < 500)) {
      const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 400;
      return reply.code(status).send({ error: { code: known ?? 'invalid_request', message: error.message, issues: [] } });
    }
    req.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody(new ReflexError('internal', 'internal error; see the server log')));
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(new ReflexError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`))));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Reflex API', version: '0.1.0', description: 'Events, automations, deployments, flow runs and webhooks. Every error answers `{ error: { code, message, issues } }` (docs/errors.md lists the codes).' },
      servers: [{ url: rt.config.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'REFLEX_API_KEY, when the server sets one.' } } },
      security: [{ bearer: [] }],
    },
    transform: documentTransform(),
    transformObject: createJsonSchemaTransformObject({ schemaRegistry: apiComponents }),
  });
  await app.register(swaggerUi, { routePrefix: API_REFERENCE_PREFIX, uiConfig: { url: '/api/docs' }, staticCSP: true });

  const ctx = { rt, modules };
  for (const register of routeModules) await register(app, ctx);

  app.get('/api/docs', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/**
 * Route schemas to OpenAPI: every operation documents the error envelope as its default answer, and a
 * public route (health, incoming webhooks) needs no key.
 */
function documentTransform(): ReturnType<typeof createJsonSchemaTransform> {
  const zodTransform = createJsonSchemaTransform({ skipList: [], schemaRegistry: apiComponents });
  return (doc) => {
    if (!doc.schema) return zodTransform(doc);
    const route = doc.route as { config?: { public?: boolean } } | undefined;
    const schema = { ...doc.schema, response: { ...(doc.schema.response as object), default: ErrorResponseSchema } } as typeof doc.schema;
    const out = zodTransform({ ...doc, schema });
    if (route?.config?.public) (out.schema as Record<string, unknown>).security = [];
    return out;
  };
}
