import type { NatsConnection } from '@nats-io/nats-core';
import type { Redis } from 'ioredis';
import { EventBus } from './bus.ts';
import type { Config } from '../core/config.ts';
import { connectNats, connectPostgres, connectRedis } from './connections.ts';
import { migrate, type Pool } from './db.ts';
import { warnAboutDurability } from './durability.ts';
import { DependencyUnavailableError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { names, type Names } from '../core/names.ts';
import { Metrics } from './metrics.ts';
import { OutageWatch } from './outages.ts';
import { Queues } from './queues.ts';

/**
 * The resources bag every service receives: connections opened once, names derived from the namespace.
 * Services never open their own connections to NATS or Postgres and never read the environment.
 */
export interface Runtime {
  readonly config: Config;
  readonly names: Names;
  readonly log: Logger;
  readonly nats: NatsConnection;
  readonly bus: EventBus;
  /** Shared Redis connection for commands (non-blocking). */
  readonly redis: Redis;
  readonly pg: Pool;
  /** A new Redis connection (BullMQ workers need their own blocking one); closed with the runtime. */
  redisConnection(name: string): Redis;
  /** BullMQ queues and workers of this namespace (the one factory). */
  readonly queues: Queues;
  /** This process's Prometheus metrics (infra/metrics.ts); services count into it, /metrics reads it. */
  readonly metrics: Metrics;
  /** Outages of NATS, Redis and PostgreSQL: logged once when they start and once when they end. */
  readonly outages: OutageWatch;
  /** Closes every connection; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Connects to NATS, Redis and Postgres in parallel and (unless `prepare: false`, as reset uses) applies
 * migrations and creates the stream; then warns, once per process, about server settings that lose
 * acknowledged work (infra/durability.ts). When dependencies are down, the error names every one of
 * them, so a user fixes them all in one go.
 */
export async function openRuntime(
  config: Config,
  log: Logger,
  options: { prepare?: boolean } = {},
): Promise<Runtime> {
  const prepare = options.prepare ?? true;
  const n = names(config.namespace);
  const timeout = config.connectTimeoutMs;
  const [natsR, redisR, pgR] = await Promise.allSettled([
    connectNats(config.natsUrl, timeout, `reflex-${config.namespace}`),
    connectRedis(config.redisUrl, timeout),
    connectPostgres(config.databaseUrl, n.pgSchema, timeout, 20),
  ]);
  const failures = [natsR, redisR, pgR].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    if (natsR.status === 'fulfilled') await natsR.value.close().catch(() => {});
    if (redisR.status === 'fulfilled') redisR.value.disconnect();
    if (pgR.status === 'fulfilled') await pgR.value.end().catch(() => {});
    if (failures.length === 1) throw failures[0].reason;
    const reasons = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason)));
    throw new DependencyUnavailableError('dependencies', 'start-up', reasons.join('\n'), 'several unreachable');
  }
  const nats = (natsR as PromiseFulfilledResult<NatsConnection>).value;
  const redis = (redisR as PromiseFulfilledResult<Redis>).value;
  const pool = (pgR as PromiseFulfilledResult<Pool>).value;

  const extra: Redis[] = [];
  const redisConnection = (name: string) => {
    const r = redis.duplicate({ connectionName: name });
    r.on('error', () => {});
    extra.push(r);
    return r;
  };
  const queues = new Queues(n, redisConnection);
  const outages = new OutageWatch({ log, config, nats, redis, pg: pool }).start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    outages.close();
    await queues.close();
    await Promise.allSettled([
      nats.drain(),
      pool.end(),
      ...[redis, ...extra].map((r) => r.quit().catch(() => r.disconnect())),
    ]);
  };
  try {
    if (prepare) await migrate(pool, n.pgSchema);
    const bus = await EventBus.open(nats, n, { retentionDays: config.eventRetentionDays, ensureStream: prepare });
    await warnAboutDurability(redis, bus, log);
    return {
      config,
      names: n,
      log,
      nats,
      bus,
      redis,
      pg: pool,
      redisConnection,
      queues,
      metrics: new Metrics(config.metricsTimeoutMs),
      outages,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
