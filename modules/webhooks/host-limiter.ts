/**
 * In-flight requests per destination host, per process: one slow receiver holds at most `limit` of a
 * replica's worker slots, so deliveries to other hosts keep flowing.
 *
 * A job over the limit waits here, in FIFO order, for a slot of its host to be handed over, instead of
 * going back to BullMQ's delayed set: that bounce cost a delayed-set round trip (several Lua scripts)
 * per 50–150 ms of waiting and capped a healthy loopback receiver at a few hundred deliveries a second
 * (docs/performance.md). A waiting job holds a worker slot, so waiting is bounded per host (`maxWaiting`):
 * one host can take at most `limit + maxWaiting` slots, and past that its jobs still go back to the
 * delayed set, leaving the other slots to the other hosts.
 */
export class HostLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly waiting = new Map<string, ((handedOver: boolean) => void)[]>();

  constructor(
    private readonly limit: number,
    private readonly maxWaiting = 0,
  ) {}

  /**
   * A slot of `host` now (`true`), a promise of one handed over when a request to the host ends (it
   * resolves `true`; `false` when `drop` turned the waiter away), or `false` when the host already has
   * `maxWaiting` jobs waiting (the caller delays the job instead). `maxWaiting` overrides the bound.
   */
  acquire(host: string, maxWaiting = this.maxWaiting): true | false | Promise<boolean> {
    const n = this.inFlight.get(host) ?? 0;
    if (n < this.limit) {
      this.inFlight.set(host, n + 1);
      return true;
    }
    const queue = this.waiting.get(host) ?? [];
    if (queue.length >= maxWaiting) return false;
    this.waiting.set(host, queue);
    return new Promise<boolean>((resolve) => queue.push(resolve));
  }

  /** Turns every job waiting for `host` away (their promises resolve `false`); returns how many. */
  drop(host: string): number {
    const queue = this.waiting.get(host);
    if (!queue) return 0;
    this.waiting.delete(host);
    for (const resolve of queue) resolve(false);
    return queue.length;
  }

  /** The hosts some job is waiting for. */
  waitingHosts(): string[] {
    return [...this.waiting.keys()];
  }

  /** Ends a request to `host`: its slot goes to the host's first waiting job, if any (the count is unchanged). */
  release(host: string): void {
    const queue = this.waiting.get(host);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiting.delete(host);
    if (next) {
      next(true);
      return;
    }
    const n = (this.inFlight.get(host) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(host);
    else this.inFlight.set(host, n);
  }

  /** Jobs waiting in this process for a slot of `host` (for logs and tests). */
  waitingFor(host: string): number {
    return this.waiting.get(host)?.length ?? 0;
  }
}
