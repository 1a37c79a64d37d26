import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DependencyRejectedError, DependencyUnavailableError } from '../core/errors.ts';
import { isPgAuthError } from './pg-errors.ts';
// Two fixes of nats.js costs on every publish (see the file): applied on import.
import './nats-patches.ts';

const HINT = {
  nats:
    'Start it with `docker compose up -d nats`, or the system package: `nats-server -js` (JetStream must be on). Set REFLEX_NATS_URL to point elsewhere.',
  redis: 'Start it with `docker compose up -d redis`, or the system package: `redis-server`. Set REFLEX_REDIS_URL to point elsewhere.',
  postgres:
    'Start it with `docker compose up -d postgres`, or the system package (`pg_ctlcluster <version> main start`). Set REFLEX_DATABASE_URL to point elsewhere.',
} as const;

const REJECTED_HINT = {
  postgres: 'Fix the user, password or database in REFLEX_DATABASE_URL (the role must exist and may connect; to let Reflex create the database it needs CREATEDB).',
} as const;

/** The URL with its password masked, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export async function connectNats(url: string, timeoutMs: number, name = 'reflex'): Promise<NatsConnection> {
  try {
    return await connect({
      servers: url.split(','),
      name,
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // Otherwise every publish builds two Error objects up front (for their stack traces): a measurable
      // share of the ingest hot path, where each event is one JetStream request.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new DependencyUnavailableError('NATS', redactUrl(url), HINT.nats, err);
  }
}

/**
 * Opens a Redis connection ready for BullMQ (`maxRetriesPerRequest: null`). The first connection must
 * succeed within the timeout; after that ioredis reconnects on its own.
 */
export async function connectRedis(url: string, timeoutMs: number, connectionName = 'reflex'): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName,
    connectTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let lastError: unknown;
  const onError = (err: unknown) => {
    lastError = err;
  };
  redis.on('error', onError);
  try {
    await withTimeout(redis.connect(), timeoutMs);
    return redis;
  } catch (err) {
    redis.disconnect();
    throw new DependencyUnavailableError('Redis', redactUrl(url), HINT.redis, lastError ?? err);
  } finally {
    redis.off('error', onError);
    // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
    redis.on('error', () => {});
  }
}

/**
 * Connects to Postgres, creating the database first when it does not exist yet. Every pooled connection
 * resolves unqualified table names in the namespace's schema, so SQL in feature code never names it.
 */
export async function connectPostgres(url: string, schema: string, timeoutMs: number, max = 10): Promise<pg.Pool> {
  try {
    await ensureDatabase(url, timeoutMs);
    const pool = new pg.Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: timeoutMs,
      options: `-c search_path=${schema}`,
    });
    // An idle client that loses its server is removed by the pool ('error' on the pool). A client checked
    // out (held between queries, as the state writer holds one) emits 'error' on itself, and without a
    // listener that kills the process: a PostgreSQL restart did exactly that to every worker. The holder
    // learns from its next query failing; the pool never hands a broken client out again.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const client = await pool.connect();
    client.release();
    return pool;
  } catch (err) {
    if (isPgAuthError(err)) throw new DependencyRejectedError('PostgreSQL', redactUrl(url), REJECTED_HINT.postgres, err);
    throw new DependencyUnavailableError('PostgreSQL', redactUrl(url), HINT.postgres, err);
  }
}

async function ensureDatabase(url: string, timeoutMs: number): Promise<void> {
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.end();
    return;
  } catch (err) {
    await probe.end().catch(() => {});
    if ((err as { code?: string }).code !== '3D000') throw err;
  }
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString(), connectionTimeoutMillis: timeoutMs });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } catch (err) {
    // Another process created it between our probe and now.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await admin.end();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
