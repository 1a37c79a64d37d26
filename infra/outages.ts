import type { NatsConnection } from '@nats-io/nats-core';
import type { Redis } from 'ioredis';
import type { Config } from '../core/config.ts';
import { setLogGate, type Logger } from '../core/log.ts';
import type { Pool } from './db.ts';
import { asDependencyUnavailable } from './unavailable.ts';

export type Dependency = 'NATS' | 'Redis' | 'PostgreSQL';

interface Outage {
  since: number;
  reason: string;
  /** Operations that failed on the outage (each would have logged a line) or queued behind it. */
  waited: number;
}

/** How often a dependency that is down is probed, to log the one line when it is back. */
const PROBE_MS = 500;
const PROBE_TIMEOUT_MS = 1000;
/**
 * After a dependency is back, other connections to it (each BullMQ worker has its own) may fail for a
 * moment longer while they reconnect. Their errors in this window are counted, not taken for a new
 * outage, unless a probe then finds the dependency down again.
 */
const SETTLE_MS = 5000;

/**
 * One warning when a dependency goes, one line when it is back (with how long and how many operations
 * waited), instead of an error with a stack trace from every worker, loop and request that retries in
 * between (three BullMQ workers alone logged ~8 lines a second while Redis was down).
 *
 * It learns of an outage from the clients (ioredis reconnecting, NATS disconnected) and from any error
 * the process logs that means a dependency is unavailable (infra/unavailable.ts tells which): such
 * lines are counted, not written (the gate in core/log.ts). While one is down it is probed every
 * PROBE_MS, which is how it learns that PostgreSQL (whose pool has no connection events) is back.
 */
export class OutageWatch {
  private readonly outages = new Map<Dependency, Outage>();
  private readonly backAt = new Map<Dependency, number>();
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;

  constructor(
    private readonly deps: { log: Logger; config: Pick<Config, 'natsUrl' | 'redisUrl' | 'databaseUrl'>; nats: NatsConnection; redis: Redis; pg: Pool },
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts listening to the clients and gating the logger; returns this. */
  start(): this {
    const { redis, nats, log } = this.deps;
    let lastRedisError = 'connection lost';
    redis.on('error', (err: Error) => (lastRedisError = err.message));
    redis.on('reconnecting', () => {
      this.down('Redis', lastRedisError);
      // Commands queued while ioredis reconnects run once it is back: they waited.
      const queued = (redis as unknown as { offlineQueue?: { length: number } }).offlineQueue?.length ?? 0;
      const o = this.outages.get('Redis');
      if (o) o.waited = Math.max(o.waited, queued);
    });
    void (async () => {
      for await (const s of nats.status()) {
        if (s.type === 'disconnect') this.down('NATS', `disconnected from ${s.server}`);
        else if (s.type === 'reconnect') this.up('NATS');
      }
    })().catch(() => {});
    setLogGate(log, (err) => this.absorb(err));
    return this;
  }

  /** Whether the dependency is known to be down now. */
  isDown(dependency: Dependency): boolean {
    return this.outages.has(dependency);
  }

  /**
   * Takes an error about to be logged: true when it reports an outage (the line is dropped and counted,
   * the outage logged once), false when the caller should log it as usual.
   */
  absorb(err: unknown): boolean {
    if (this.closed) return false;
    const outage = asDependencyUnavailable(err, this.deps.config);
    const dependency = outage?.dependency;
    if (dependency !== 'NATS' && dependency !== 'Redis' && dependency !== 'PostgreSQL') return false;
    const reason = err instanceof Error ? err.message : String(err);
    const back = this.backAt.get(dependency);
    if (!this.outages.has(dependency) && back !== undefined && this.now() - back < SETTLE_MS) {
      void this.answers(dependency).then((ok) => (ok ? undefined : this.down(dependency, reason)));
      return true;
    }
    this.down(dependency, reason);
    (this.outages.get(dependency) as Outage).waited += 1;
    return true;
  }

  down(dependency: Dependency, reason: string): void {
    if (this.closed || this.outages.has(dependency)) return;
    this.outages.set(dependency, { since: this.now(), reason, waited: 0 });
    this.deps.log.warn({ dependency, reason }, `${dependency} is unreachable (${reason}); work that needs it waits and retries, and one line follows when it is back`);
    this.timer ??= setInterval(() => void this.probe(), PROBE_MS).unref();
  }

  up(dependency: Dependency): void {
    const o = this.outages.get(dependency);
    if (!o) return;
    this.outages.delete(dependency);
    this.backAt.set(dependency, this.now());
    const downMs = this.now() - o.since;
    this.deps.log.info({ dependency, down_ms: downMs, waited: o.waited }, `${dependency} is back after ${(downMs / 1000).toFixed(1)} s; ${o.waited} operation(s) waited for it`);
    if (this.outages.size === 0) this.stopProbing();
  }

  /** Stops probing and gating (at shutdown, when connections close on purpose). */
  close(): void {
    this.closed = true;
    this.stopProbing();
  }

  private stopProbing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      await Promise.all([...this.outages.keys()].map(async (d) => ((await this.answers(d)) ? this.up(d) : undefined)));
    } finally {
      this.probing = false;
    }
  }

  private async answers(dependency: Dependency): Promise<boolean> {
    const { nats, redis, pg } = this.deps;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS)));
    const attempt = async (): Promise<boolean> => {
      switch (dependency) {
        case 'Redis':
          return redis.status === 'ready' && (await redis.ping()) === 'PONG';
        case 'NATS':
          if (nats.isClosed()) return false;
          await nats.flush();
          return true;
        case 'PostgreSQL':
          await pg.query('SELECT 1');
          return true;
      }
    };
    try {
      return await Promise.race([attempt().catch(() => false), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
