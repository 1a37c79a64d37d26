import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { keyMatches } from './key-match.ts';

/**
 * The dashboard's session: a browser's EventSource cannot send an Authorization header, so the dashboard
 * trades the API key once for an HttpOnly, SameSite=Strict cookie that the API key check (auth.ts)
 * accepts beside the bearer header.
 *
 * The cookie holds an HMAC of the key, not the key: it is worthless anywhere but this API, it is the same
 * on every replica (no session store) and changing REFLEX_API_KEY revokes every session at once.
 *
 * CSRF: SameSite=Strict already keeps other sites' requests from carrying the cookie. On top of that a
 * request authenticated by the cookie with an unsafe method must send `x-reflex-csrf: 1`, a header no
 * HTML form can set and cross-origin script cannot send without a CORS preflight, which this API never
 * grants; and when the browser says where the request came from (`sec-fetch-site`), it must be this origin.
 */

export const SESSION_COOKIE = 'reflex_session';
export const CSRF_HEADER = 'x-reflex-csrf';
/** A week: long enough not to nag, short enough that a forgotten browser does not stay signed in. */
export const SESSION_MAX_AGE_SECONDS = 7 * 24 * 3600;

export function sessionToken(apiKey: string): string {
  return createHmac('sha256', apiKey).update('reflex-dashboard-session:v1').digest('base64url');
}

/** The value of one cookie of a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_SECONDS}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

export type SessionCheck = 'valid' | 'absent' | 'invalid' | 'csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the request carries a valid session cookie, and passes the CSRF rules when it changes something. */
export function checkSession(req: Pick<FastifyRequest, 'headers' | 'method'>, apiKey: string): SessionCheck {
  const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (cookie === undefined) return 'absent';
  if (!keyMatches(cookie, sessionToken(apiKey))) return 'invalid';
  if (SAFE_METHODS.has(req.method)) return 'valid';
  if (req.headers[CSRF_HEADER] !== '1') return 'csrf';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return 'csrf';
  return 'valid';
}
