import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../core/log.ts';

export interface BatchConsumerOptions {
  /** Largest batch handed to the handler. */
  maxBatch?: number;
  /** Messages the client keeps buffered from the server. */
  prefetch?: number;
  /** Delay before a failed batch is redelivered. */
  retryDelayMs?: number;
  /**
   * Batches start at most this often (default 0: at once). Under a steady stream, what arrives in between
   * joins one batch — one ack write and one round trip of the handler instead of one per message — at
   * most this much later; a message after a quiet spell is handled at once.
   */
  minBatchIntervalMs?: number;
}

/**
 * Runs a JetStream pull consumer as a group-commit loop: the first message is handled at once, and
 * whatever arrives while a batch is being handled forms the next batch. Latency stays low when idle and
 * batches grow under load. The handler acknowledges what it made durable; a batch whose handler throws
 * is naked for redelivery.
 */
export class BatchConsumer {
  private messages: ConsumerMessages | undefined;
  private pending: JsMsg[] = [];
  private wake: (() => void) | undefined;
  private done = false;
  private loops: Promise<void>[] = [];
  private lastBatchAt = -Infinity;

  constructor(
    private readonly consumer: Consumer,
    private readonly handler: (batch: JsMsg[]) => Promise<void>,
    private readonly log: Logger,
    private readonly options: BatchConsumerOptions = {},
  ) {}

  async start(): Promise<void> {
    this.messages = await this.consumer.consume({ max_messages: this.options.prefetch ?? 2000 });
    this.loops = [this.receive(this.messages), this.process()];
  }

  /** Stops pulling, handles what was already received, then returns. */
  async stop(): Promise<void> {
    if (!this.messages) return;
    await this.messages.close().catch(() => {});
    await Promise.all(this.loops);
    this.messages = undefined;
  }

  private async receive(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        this.pending.push(m);
        this.wake?.();
      }
    } catch (err) {
      this.log.error({ err }, 'event consumer stopped');
    } finally {
      this.done = true;
      this.wake?.();
    }
  }

  private async process(): Promise<void> {
    const maxBatch = this.options.maxBatch ?? 1000;
    for (;;) {
      if (this.pending.length === 0) {
        if (this.done) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const wait = this.lastBatchAt + (this.options.minBatchIntervalMs ?? 0) - performance.now();
      if (wait > 0 && this.pending.length < maxBatch && !this.done) await new Promise((r) => setTimeout(r, wait));
      this.lastBatchAt = performance.now();
      const batch = this.pending.splice(0, maxBatch);
      try {
        await this.handler(batch);
      } catch (err) {
        this.log.error({ err, size: batch.length }, 'batch failed; it will be redelivered');
        for (const m of batch) m.nak(this.options.retryDelayMs ?? 1000);
      }
    }
  }
}
