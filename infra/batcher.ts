import type { Logger } from '../core/log.ts';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A write's answer for one item that failed on its own (the others of the batch succeeded). */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

/** Waiting out a dependency that is down: which errors mean that, and how long each item may wait. */
export interface HoldPolicy<I> {
  /** True for an error that another try may not meet (the dependency is unavailable). */
  when(err: unknown): boolean;
  /** Until when (epoch ms) an item may be held; past it, it fails with `giveUp(err)`. */
  until(item: I): number;
  giveUp(err: unknown): unknown;
  /** Told once when holding starts and once when a write succeeds again. */
  onHold?(err: unknown, held: number): void;
  onResume?(downMs: number): void;
}

export interface BatcherOptions<I> {
  maxBatch?: number;
  /**
   * Batches start at most this often (default 0). Under a steady stream, items arriving in between join
   * one batch (one round trip instead of one each) at most this much later; after a quiet spell an item
   * is written at once.
   */
  minIntervalMs?: number;
  /** Without it, a batch that throws is retried item by item and each failing item's caller gets the error. */
  hold?: HoldPolicy<I>;
  /** The queue is empty after a write (a writer hands back the connection it held meanwhile). */
  onIdle?(): void;
}

/** Retries of a held batch start this far apart and double up to the maximum. */
const HOLD_RETRY_MS = { first: 100, max: 2000 };

/**
 * Group commit: items pushed while a batch is being written form the next batch, one batch at a time, in
 * push order. A caller's promise settles once its batch is written (committed, or acknowledged by
 * JetStream), with its item's result, or its ItemFailure's error. A batch that throws is retried item by
 * item, so one bad item fails only its own caller; with a hold policy, a batch that meets an unavailable
 * dependency is kept, in order, and tried again after a growing delay, each item until its deadline.
 */
export class Batcher<I, R> {
  private pending: { item: I; w: Waiter<R> }[] = [];
  private running: Promise<void> | undefined;
  private lastStart = -Infinity;
  private outage: { since: number; delayMs: number; retryAt: number } | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly maxBatch: number;
  private readonly minIntervalMs: number;

  constructor(
    private readonly write: (items: I[]) => Promise<Array<R | ItemFailure>>,
    private readonly log: Logger,
    private readonly options: BatcherOptions<I> = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.minIntervalMs = options.minIntervalMs ?? 0;
  }

  push(item: I): Promise<R> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, w: { resolve, reject } });
      this.start();
    });
  }

  /** Resolves once everything pushed so far is written (or has failed). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.running) {
      this.start();
      if (this.running) await this.running;
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  private start(): void {
    if (this.running) return;
    // One macrotask of grace lets the items that became ready in the same I/O turn join.
    this.running = new Promise<void>((r) => setImmediate(r)).then(() => this.run());
  }

  private async run(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        if (this.outage && Date.now() < this.outage.retryAt) {
          // Only the retry timer sends during an outage (a new item must not turn the back-off into a
          // spin); items whose patience ran out fail now.
          this.failExpired();
          this.retryTimer ??= setTimeout(() => {
            this.retryTimer = undefined;
            this.start();
          }, this.outage.retryAt - Date.now()).unref();
          return;
        }
        const wait = this.lastStart + this.minIntervalMs - performance.now();
        if (wait > 0 && this.pending.length < this.maxBatch) await new Promise((r) => setTimeout(r, wait));
        this.lastStart = performance.now();
        await this.settle(this.pending.splice(0, this.maxBatch));
      }
    } finally {
      this.running = undefined;
      if (this.pending.length === 0) this.options.onIdle?.();
    }
  }

  private async settle(batch: { item: I; w: Waiter<R> }[]): Promise<void> {
    let results: Array<R | ItemFailure>;
    try {
      results = await this.write(batch.map((b) => b.item));
    } catch (err) {
      const hold = this.options.hold;
      if (hold?.when(err)) return this.hold(hold, batch, err);
      if (batch.length === 1) {
        batch[0].w.reject(err);
        return;
      }
      this.log.warn({ err, items: batch.length }, 'batch failed; retrying its items one by one');
      for (const b of batch) await this.settle([b]);
      return;
    }
    if (this.outage) {
      this.options.hold?.onResume?.(Date.now() - this.outage.since);
      this.outage = null;
    }
    batch.forEach((b, i) => {
      const r = results[i];
      if (r instanceof ItemFailure) b.w.reject(r.error);
      else b.w.resolve(r);
    });
  }

  /** Puts a batch back at the head of the queue, in order, for a retry after a growing delay. */
  private hold(policy: HoldPolicy<I>, batch: { item: I; w: Waiter<R> }[], err: unknown): void {
    const now = Date.now();
    const keep = batch.filter((b) => policy.until(b.item) > now);
    for (const b of batch) if (policy.until(b.item) <= now) b.w.reject(policy.giveUp(err));
    if (!this.outage) {
      this.outage = { since: now, delayMs: HOLD_RETRY_MS.first, retryAt: 0 };
      policy.onHold?.(err, keep.length);
    } else {
      this.outage.delayMs = Math.min(this.outage.delayMs * 2, HOLD_RETRY_MS.max);
    }
    this.outage.retryAt = now + this.outage.delayMs;
    this.pending.unshift(...keep);
  }

  private failExpired(): void {
    const policy = this.options.hold;
    if (!policy) return;
    const now = Date.now();
    const expired = this.pending.filter((b) => policy.until(b.item) <= now);
    if (expired.length === 0) return;
    this.pending = this.pending.filter((b) => policy.until(b.item) > now);
    for (const b of expired) b.w.reject(policy.giveUp(new Error('still unavailable')));
  }
}
