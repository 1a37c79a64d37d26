import { ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/nats-core';
import pg from 'pg';
import type { Config } from './config.ts';
import { redactUrl } from './connections.ts';
import { DependencyUnavailableError } from './errors.ts';

/**
 * Recognises the errors that mean "a dependency cannot serve right now" (as opposed to "this request is
 * wrong"), so the API answers them with a fast 503 naming the dependency instead of a 500. Each client
 * library reports an outage its own way; this is the one place that knows them.
 */

/** What a client does about an outage, in every such answer. */
export const RETRY_HINT = 'Retry after the Retry-After delay.';

/** nats.js: no answer in time, nobody to answer (JetStream not ready), the connection closed or lost. */
const NATS_ERRORS = [TimeoutError, NoRespondersError, ClosedConnectionError, DrainingConnectionError, ConnectionError, RequestError];

/** Socket errors of a connection that could not be made or broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** pg's own messages for a connection that broke or could not be made in time. */
const PG_CONNECTION_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * SQLSTATEs of a server that cannot serve now: connection exceptions (class 08), shutting down or
 * starting up (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now), too many clients.
 */
function isPgOutageCode(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
}

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
  const raw = (err as Error & { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : '';
  if ((err instanceof pg.DatabaseError && isPgOutageCode(code)) || PG_CONNECTION_MESSAGE.test(err.message)) return unavailable('PostgreSQL', config.databaseUrl);
  // ioredis queues commands while it reconnects; these are what it throws once it gives a command up.
  if (err.name === 'MaxRetriesPerRequestError' || err.message === 'Connection is closed.') return unavailable('Redis', config.redisUrl);
  if (SOCKET_CODES.has(code)) {
    // A socket error names the port it failed on: whichever dependency listens there.
    const port = (err as { port?: unknown }).port;
    if (port === portOf(config.databaseUrl, 5432)) return unavailable('PostgreSQL', config.databaseUrl);
    if (port === portOf(config.redisUrl, 6379)) return unavailable('Redis', config.redisUrl);
    if (port === portOf(config.natsUrl, 4222)) return unavailable('NATS', config.natsUrl);
  }
  return null;
}

