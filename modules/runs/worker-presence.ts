import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/log.ts';
import type { Names } from '../../core/names.ts';
import type { WorkerPresenceRecord } from '../../schemas/dashboard.ts';

/**
 * Which workers serve a pool: each worker writes one field of the pool's hash (`RedisKeys.workers`)
 * every heartbeat interval, with when it last did. Readers treat a worker silent for three intervals as
 * offline and drop entries silent for a day, so the hash never grows without bound.
 */

/** An entry older than this is deleted by the next reader. */
const FORGET_WORKER_AFTER_MS = 24 * 3600 * 1000;

export interface WorkerPresenceOptions {
  pool: string;
  concurrency: number;
  heartbeatSeconds: number;
  /** What an operator looks for: a container's HOSTNAME is its pod or container name. */
  hostname: string;
}

export class WorkerPresence {
  readonly id = randomUUID();
  private readonly started = new Date().toISOString();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly names: Names,
    private readonly options: WorkerPresenceOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(
      () => void this.beat().catch((err: unknown) => this.log.debug({ err }, 'worker presence not written')),
      Math.max(250, Math.round(this.options.heartbeatSeconds * 1000)),
    );
    this.timer.unref();
  }

  /** Removes this worker's entry: a clean stop is not an outage. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(this.names.keys.workers(this.options.pool), this.id).catch(() => {});
  }

  private async beat(): Promise<void> {
    const record: WorkerPresenceRecord = {
      id: this.id,
      pool: this.options.pool,
      hostname: this.options.hostname,
      pid: process.pid,
      concurrency: this.options.concurrency,
      started: this.started,
      last_heartbeat: new Date().toISOString(),
      heartbeat_seconds: this.options.heartbeatSeconds,
    };
    await this.redis.hset(this.names.keys.workers(this.options.pool), this.id, JSON.stringify(record));
  }
}

/** The workers of a pool that were seen in the last day, newest heartbeat first; older entries are deleted. */
export async function readWorkers(redis: Redis, names: Names, pool: string, now = Date.now()): Promise<Array<WorkerPresenceRecord & { online: boolean }>> {
  const key = names.keys.workers(pool);
  const entries = await redis.hgetall(key);
  const out: Array<WorkerPresenceRecord & { online: boolean }> = [];
  const stale: string[] = [];
  for (const [id, json] of Object.entries(entries)) {
    let r: WorkerPresenceRecord;
    try {
      r = JSON.parse(json) as WorkerPresenceRecord;
    } catch {
      stale.push(id);
      continue;
    }
    const age = now - Date.parse(r.last_heartbeat);
    if (!(age < FORGET_WORKER_AFTER_MS)) stale.push(id);
    else out.push({ ...r, online: age < r.heartbeat_seconds * 3000 });
  }
  if (stale.length) await redis.hdel(key, ...stale);
  return out.sort((a, b) => b.last_heartbeat.localeCompare(a.last_heartbeat));
}
