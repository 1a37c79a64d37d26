import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ReflexError } from '../../core/errors.ts';
import { errorBody } from './error-body.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the API key (health, incoming webhooks). Every other route requires it. */
    public?: boolean;
  }
}

/** Compares in constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function keyMatches(given: string | undefined, key: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(key).digest();
  return timingSafeEqual(a, b);
}

/**
 * With REFLEX_API_KEY set, every request needs `Authorization: Bearer <key>` unless the route it was
 * routed to is declared public. The decision is made on the route the router chose, never on the raw
 * request target: a percent-encoded path (`/%61pi/...`), an absolute-form target (`http://x/api/...`),
 * dot segments or doubled slashes reach the same route and meet the same check. Requests that match no
 * route are refused too, so a 404 tells an unauthenticated client nothing about what exists.
 */
export function registerApiKeyCheck(app: FastifyInstance, key: string | undefined, options: { publicPrefixes?: string[] } = {}): void {
  if (!key) return;
  const expected = `Bearer ${key}`;
  const prefixes = options.publicPrefixes ?? [];
  // Routes registered by plugins (the API reference's page and assets) cannot carry our config: they are
  // public by the pattern the router matched, except the documents they serve.
  const publicPattern = (pattern: string | undefined) =>
    pattern !== undefined && prefixes.some((p) => (pattern === p || pattern.startsWith(`${p}/`)) && !/\/(json|yaml)$/.test(pattern));
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config?.public === true || publicPattern(req.routeOptions.url)) return;
    if (keyMatches(req.headers.authorization, expected)) return;
    const err = new ReflexError('unauthorized', 'missing or wrong API key: send `Authorization: Bearer <REFLEX_API_KEY>`');
    return reply.code(401).send(errorBody(err));
  });
}
