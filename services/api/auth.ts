import type { FastifyInstance } from 'fastify';
import { ReflexError } from '../../core/errors.ts';
import { errorBody } from './error-body.ts';
import { keyMatches } from './key-match.ts';
import { CSRF_HEADER, checkSession } from './session.ts';

export { keyMatches };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the API key (health, incoming webhooks, the session, the dashboard's shell). Every other route requires it. */
    public?: boolean;
  }
}

/**
 * With REFLEX_API_KEY set, every request needs `Authorization: Bearer <key>` unless the route it was
 * routed to is declared public. The decision is made on the route the router chose, never on the raw
 * request target: a percent-encoded path (`/%61pi/...`), an absolute-form target (`http://x/api/...`),
 * dot segments or doubled slashes reach the same route and meet the same check. Requests that match no
 * route are refused too, so a 404 tells an unauthenticated client nothing about what exists.
 * The dashboard's session cookie (session.ts) is accepted instead of the header; a cookie-authenticated
 * request that changes something must pass the CSRF rules there, or it is refused with 403.
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
    const session = checkSession(req, key);
    if (session === 'valid') return;
    if (session === 'csrf') {
      const err = new ReflexError('forbidden', `a change authenticated by the session cookie must send \`${CSRF_HEADER}: 1\` from the same origin`);
      return reply.code(403).send(errorBody(err));
    }
    const err = new ReflexError('unauthorized', 'missing or wrong API key: send `Authorization: Bearer <REFLEX_API_KEY>`');
    return reply.code(401).send(errorBody(err));
  });
}
