import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Runtime } from '../../infra/runtime.ts';
import type { Modules } from '../modules.ts';

/** The API's Fastify instance: routes take zod schemas, and handlers are typed from them. */
export type ApiApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface ApiContext {
  rt: Runtime;
  modules: Modules;
}

/**
 * A route module registers its routes on the app, each declared once: its zod schemas (params,
 * querystring, body, response) validate the request, type the handler and make the OpenAPI document;
 * `operationId`, `tags` and `summary` name it there.
 */
export type RouteModule = (app: ApiApp, ctx: ApiContext) => void | Promise<void>;
