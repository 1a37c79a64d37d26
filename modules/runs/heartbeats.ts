import type { Redis } from 'ioredis';
import type { Names } from '../../core/names.ts';

/**
 * Liveness of running flow runs: one Redis key per run with a TTL of three intervals, refreshed for every
 * run of the process in one pipeline per interval. The crash sweeper treats a RUNNING run whose key is
 * gone as CRASHED. Starts and stops made in the same tick share one pipeline, so a busy worker does not
 * pay a Redis round trip per run.
 */

export const heartbeatKey = (names: Names, runId: string): string => names.keys.heartbeat(runId);

/** A run is presumed dead once its heartbeat has been silent this long. */
export const heartbeatTtlMs = (intervalSeconds: number): number => Math.round(intervalSeconds * 3000);

export class Heartbeats {
  private readonly active = new Set<string>();
  private starts = new Set<string>();
  private stops = new Set<string>();
  private flushQueued = false;
  private readonly timer: NodeJS.Timeout;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly names: Names,
    intervalSeconds: number,
  ) {
    this.ttlMs = heartbeatTtlMs(intervalSeconds);
    this.timer = setInterval(() => this.beat(), Math.round(intervalSeconds * 1000));
    this.timer.unref();
  }

  start(runId: string): void {
    this.active.add(runId);
    this.stops.delete(runId);
    this.starts.add(runId);
    this.queueFlush();
  }

  stop(runId: string): void {
    this.active.delete(runId);
    this.starts.delete(runId);
    this.stops.add(runId);
    this.queueFlush();
  }

  get size(): number {
    return this.active.size;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      const starts = this.starts;
      const stops = this.stops;
      this.starts = new Set();
      this.stops = new Set();
      const p = this.redis.pipeline();
      for (const id of starts) p.set(heartbeatKey(this.names, id), '1', 'PX', this.ttlMs);
      if (stops.size > 0) p.del(...[...stops].map((id) => heartbeatKey(this.names, id)));
      void p.exec().catch(() => {});
    });
  }

  private beat(): void {
    if (this.active.size === 0) return;
    const p = this.redis.pipeline();
    for (const id of this.active) p.set(heartbeatKey(this.names, id), '1', 'PX', this.ttlMs);
    void p.exec().catch(() => {});
  }
}
