import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '../../core/log.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Pool, PoolClient } from '../../infra/db.ts';
import { outboxLockKey, relayOutbox } from '../../modules/runs/index.ts';
import type { Service } from '../service.ts';

export interface OutboxRelayDeps {
  pg: Pool;
  nats: NatsConnection;
  bus: EventBus;
  log: Logger;
  /** The namespace's schema (the advisory lock is per namespace) and its LISTEN/NOTIFY channel. */
  pgSchema: string;
  channel: string;
  /** Subscribes to commits of this process's state writer (the relay wakes at once). */
  onCommit(listener: () => void): () => void;
}

export interface OutboxRelayOptions {
  /** Rows published per transaction. */
  batchSize?: number;
  /** Polling fallback when no wake-up arrives (a lost notification, a writer in another process). */
  pollMs?: number;
  /**
   * Passes start at most this often while commits keep coming (default 20 ms): the rows of the commits
   * in between go out in one pass. The first commit after a quiet spell is published at once.
   */
  minPassIntervalMs?: number;
}

/**
 * Publishes outbox rows (state-change events written in the same transaction as the state) to JetStream,
 * in `seq` order, deleting each row once JetStream has stored its event. Woken at once by the state
 * writer of this process and by Postgres NOTIFY from other processes, with polling as the fallback.
 *
 * Replicas: rows are taken with FOR UPDATE SKIP LOCKED inside a transaction that also holds a
 * per-namespace advisory lock, so one relay publishes at a time — that keeps each run's events in
 * order — and the others take over the moment it stops. A crash between publish and delete republishes
 * rows with the same event id, which JetStream's duplicate window drops. While NATS is down the rows
 * simply stay; the relay stops trying while the connection is down (a publish sent then is dropped by the
 * client on reconnect and would only time out) and publishes the moment it is back.
 */
export class OutboxRelay implements Service {
  readonly name = 'outbox';
  private readonly log: Logger;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: ((evenBackoff: boolean) => void) | undefined;
  private pending = false;
  private listener: PoolClient | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly lockKey: number;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly minPassIntervalMs: number;
  private lastPassAt = -Infinity;
  private natsDown = false;
  published = 0;
  /** Passes made (a transaction each), for tests and diagnostics. */
  passes = 0;

  constructor(
    private readonly deps: OutboxRelayDeps,
    options: OutboxRelayOptions = {},
  ) {
    this.log = deps.log.child({ service: 'outbox' });
    this.lockKey = outboxLockKey(deps.pgSchema);
    this.batchSize = Math.max(1, Math.trunc(options.batchSize ?? 1000));
    this.pollMs = options.pollMs ?? 1000;
    this.minPassIntervalMs = Math.max(0, options.minPassIntervalMs ?? 20);
  }

  async start(): Promise<void> {
    this.running = true;
    this.unsubscribe = this.deps.onCommit(() => this.wake());
    await this.listen();
    void this.watchNats();
    this.loop = this.run();
  }

  private async watchNats(): Promise<void> {
    for await (const s of this.deps.nats.status()) {
      if (s.type === 'disconnect') this.natsDown = true;
      else if (s.type === 'reconnect') {
        this.natsDown = false;
        this.wake(true);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.wake(true);
    await this.loop;
    const l = this.listener;
    this.listener = undefined;
    if (l) {
      await l.query(`UNLISTEN "${this.deps.channel}"`).catch(() => {});
      l.release();
    }
  }

  describe(): string {
    return 'publishing flow-run and task-run state events from the outbox';
  }

  /** Runs the loop now; `evenBackoff` also cuts a back-off short (NATS is back). */
  wake(evenBackoff = false): void {
    this.pending = true;
    this.wakeUp?.(evenBackoff);
  }

  private async listen(): Promise<void> {
    try {
      const client = await this.deps.pg.connect();
      client.on('notification', () => this.wake());
      client.on('error', (err) => {
        this.log.warn({ err }, 'outbox LISTEN connection lost; polling until it is back');
        if (this.listener === client) this.listener = undefined;
        client.release(true);
        if (this.running) setTimeout(() => void this.listen(), 1000).unref();
      });
      await client.query(`LISTEN "${this.deps.channel}"`);
      this.listener = client;
    } catch (err) {
      this.log.warn({ err }, 'could not LISTEN for outbox notifications; polling');
      if (this.running) setTimeout(() => void this.listen(), 1000).unref();
    }
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (this.running) {
      // Group commit for the relay. At 200 new flow runs a second, every state commit of the engine and
      // the workers woke a pass of its own: 165 transactions and publish rounds a second of one or two
      // rows each, whose Postgres and NATS time delayed the runs being started (flows bench, event ->
      // RUNNING p99 39-55 ms, mean 51, against 40-49, mean 44, with passes 20-25 ms apart; docs/performance.md
      // round 9). A state event waits at most that long, and only while others keep coming.
      const linger = this.lastPassAt + this.minPassIntervalMs - performance.now();
      if (linger > 0) await this.sleep(linger, false);
      if (!this.running) break;
      this.pending = false;
      this.lastPassAt = performance.now();
      let count = 0;
      if (this.natsDown) {
        await this.sleep(this.pollMs, false);
        continue;
      }
      this.passes += 1;
      try {
        count = await this.relayOnce();
        backoff = 0;
      } catch (err) {
        backoff = Math.min(backoff ? backoff * 2 : 200, 5000);
        this.log.warn({ err, retry_in_ms: backoff }, 'outbox publish failed; rows kept for retry');
      }
      if (!this.running) break;
      if (backoff) await this.sleep(backoff, false);
      else if (count < this.batchSize && !this.pending) await this.sleep(this.pollMs, true);
    }
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // stop() and a reconnect always interrupt; a new commit interrupts only the idle wait, not a back-off.
      this.wakeUp = (evenBackoff) => {
        if (wakeable || evenBackoff || !this.running) done();
      };
    });
  }

  /**
   * Publishes one batch; returns how many rows it published (0 when another replica holds the lock).
   * Issued in seq order on one connection, so JetStream stores them in that order.
   */
  async relayOnce(): Promise<number> {
    const n = await relayOutbox(this.deps.pg, this.lockKey, this.batchSize, (rows) =>
      Promise.allSettled(rows.map((r) => this.deps.bus.publishSerialized(r.name, r.id, r.json))),
    );
    this.published += n;
    return n;
  }
}
