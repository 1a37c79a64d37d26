import { z } from 'zod';
import { ReflexError } from '../../../core/errors.ts';
import { SessionSchema } from '../../../schemas/dashboard.ts';
import { keyMatches } from '../key-match.ts';
import type { RouteModule } from '../route-module.ts';
import { checkSession, clearedSessionCookie, sessionCookie, sessionToken } from '../session.ts';

const SessionInputSchema = z.object({ key: z.string().min(1).max(4096).describe('The REFLEX_API_KEY.') }).strict();
const tags = ['session'];

/**
 * The dashboard's session: `POST /api/session` trades the API key for an HttpOnly cookie (see
 * session.ts), `GET` says whether one is needed and held, `DELETE` signs out. Public routes: they are how
 * a browser without the key finds out it needs one.
 */
export const sessionRoutes: RouteModule = (app, { rt }) => {
  const key = rt.config.apiKey;
  const config = { public: true };

  app.get(
    '/api/session',
    { config, schema: { operationId: 'getSession', tags, summary: 'Whether the API needs a key, and whether this request has it', response: { 200: SessionSchema } } },
    async (req) => ({
      auth_required: Boolean(key),
      authenticated: !key || keyMatches(req.headers.authorization, `Bearer ${key}`) || checkSession(req, key) === 'valid',
    }),
  );

  app.post(
    '/api/session',
    {
      config,
      schema: {
        operationId: 'createSession',
        tags,
        summary: 'Trade the API key for an HttpOnly, SameSite=Strict session cookie (401 when wrong)',
        body: SessionInputSchema,
        response: { 200: SessionSchema },
      },
    },
    async (req, reply) => {
      if (!key) return { auth_required: false, authenticated: true };
      if (!keyMatches(req.body.key, key)) throw new ReflexError('unauthorized', 'wrong API key', { issues: [{ path: 'key', message: 'does not match REFLEX_API_KEY' }] });
      reply.header('set-cookie', sessionCookie(sessionToken(key), req.protocol === 'https'));
      return { auth_required: true, authenticated: true };
    },
  );

  app.delete(
    '/api/session',
    { config, schema: { operationId: 'deleteSession', tags, summary: 'Sign out: clears the session cookie', response: { 204: z.undefined() } } },
    async (req, reply) => {
      reply.header('set-cookie', clearedSessionCookie(req.protocol === 'https'));
      return reply.code(204).send();
    },
  );
};
