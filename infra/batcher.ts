import type { Logger } from '../core/log.ts';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export interface BatcherOptions {
  maxBatch?: number;
  /**
   * Batches start at most this often (default 0). Under a steady stream, items arriving in between join
   * one batch (one round trip instead of one each) at most this much later; after a quiet spell an item
   * is written at once.
   */
  minIntervalMs?: number;
}

/**
 * Group commit: items pushed while a batch is being written form the next batch, one batch at a time.
 * A caller's promise settles once its batch is written (committed, or
 * acknowledged by JetStream). A failed batch is retried item by item, so one bad item fails only its own
 * caller.
 */
export class Batcher<I, R> {
  private pending: { item: I; w: Waiter<R> }[] = [];
  private running = false;
  private lastStart = -Infinity;
  private readonly maxBatch: number;
  private readonly minIntervalMs: number;

  constructor(
    private readonly write: (items: I[]) => Promise<R[]>,
    private readonly log: Logger,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.minIntervalMs = options.minIntervalMs ?? 0;
  }

  push(item: I): Promise<R> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, w: { resolve, reject } });
      if (!this.running) {
        this.running = true;
        // One macrotask of grace lets the items that became ready in the same I/O turn join.
        setImmediate(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const wait = this.lastStart + this.minIntervalMs - performance.now();
        if (wait > 0 && this.pending.length < this.maxBatch) await new Promise((r) => setTimeout(r, wait));
        this.lastStart = performance.now();
        await this.settle(this.pending.splice(0, this.maxBatch));
      }
    } finally {
      this.running = false;
    }
  }

  private async settle(batch: { item: I; w: Waiter<R> }[]): Promise<void> {
    try {
      const results = await this.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.w.resolve(results[i]));
    } catch (err) {
      if (batch.length === 1) {
        batch[0].w.reject(err);
        return;
      }
      this.log.warn({ err, items: batch.length }, 'batch failed; retrying its items one by one');
      for (const b of batch) await this.settle([b]);
    }
  }
}
