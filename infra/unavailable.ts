import { ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/nats-core';
import type { Config } from '../core/config.ts';
import { DependencyUnavailableError } from '../core/errors.ts';
import { redactUrl } from './connections.ts';
import { pgErrorKind, SOCKET_CODES } from './pg-errors.ts';

/**
 * Recognises the errors that mean "a dependency cannot serve right now" (as opposed to "this request is
 * wrong"), so the API answers them with a fast 503 naming the dependency instead of a 500. Each client
 * library reports an outage its own way; this is the one place that tells them apart (PostgreSQL's codes
 * are read by pg-errors.ts, NATS's JetStream codes by nats-errors.ts).
 */

/** What a client does about an outage, in every such answer. */
export const RETRY_HINT = 'Retry after the Retry-After delay.';

/** nats.js: no answer in time, nobody to answer (JetStream not ready), the connection closed or lost. */
const NATS_ERRORS = [TimeoutError, NoRespondersError, ClosedConnectionError, DrainingConnectionError, ConnectionError, RequestError];

function portOf(url: string, fallback: number): number | undefined {
  try {
    const u = new URL(url.split(',')[0]);
    return u.port ? Number(u.port) : fallback;
  } catch {
    return undefined;
  }
}

/** Whether a nats.js error means NATS or JetStream cannot serve now. */
export function isNatsOutage(err: unknown): boolean {
  return NATS_ERRORS.some((type) => err instanceof type);
}

/** The error as a DependencyUnavailableError when it reports an outage of NATS, Redis or PostgreSQL; else null. */
export function asDependencyUnavailable(err: unknown, config: Pick<Config, 'natsUrl' | 'redisUrl' | 'databaseUrl'>): DependencyUnavailableError | null {
  if (err instanceof DependencyUnavailableError) return err;
  if (!(err instanceof Error)) return null;
  const unavailable = (dependency: string, url: string) => new DependencyUnavailableError(dependency, redactUrl(url.split(',')[0]), RETRY_HINT, err);
  if (isNatsOutage(err)) return unavailable('NATS', config.natsUrl);
  // ioredis queues commands while it reconnects; these are what it throws once it gives a command up.
  if (err.name === 'MaxRetriesPerRequestError' || err.message === 'Connection is closed.') return unavailable('Redis', config.redisUrl);
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) {
    // A socket error names the port it failed on: whichever dependency listens there.
    const port = (err as { port?: unknown }).port;
    if (port === portOf(config.databaseUrl, 5432)) return unavailable('PostgreSQL', config.databaseUrl);
    if (port === portOf(config.redisUrl, 6379)) return unavailable('Redis', config.redisUrl);
    if (port === portOf(config.natsUrl, 4222)) return unavailable('NATS', config.natsUrl);
    return null;
  }
  return pgErrorKind(err) === 'unavailable' ? unavailable('PostgreSQL', config.databaseUrl) : null;
}
