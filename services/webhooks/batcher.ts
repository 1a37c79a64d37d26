import type { Logger } from '../../core/log.ts';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/**
 * Group commit for the webhook service's writes: items pushed while a batch is being written form the
 * next batch, and up to `parallel` batches are written at once. A caller's promise settles once its
 * batch is written (committed, or acknowledged by JetStream). A failed batch is retried item by item, so
 * one bad item fails only its own caller.
 */
export class Batcher<I, R> {
  private pending: { item: I; w: Waiter<R> }[] = [];
  private running = 0;

  constructor(
    private readonly write: (items: I[]) => Promise<R[]>,
    private readonly log: Logger,
    private readonly parallel = 1,
    private readonly maxBatch = 500,
  ) {}

  push(item: I): Promise<R> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, w: { resolve, reject } });
      if (this.running < this.parallel) {
        this.running += 1;
        // One macrotask of grace lets the jobs that became ready in the same I/O turn join the batch.
        setImmediate(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.settle(this.pending.splice(0, this.maxBatch));
    } finally {
      this.running -= 1;
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
