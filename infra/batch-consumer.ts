import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { millis } from '@nats-io/nats-core';
import type { Logger } from '../core/log.ts';
import { ACK_WAIT_SECONDS } from './bus.ts';

/**
 * Handles one batch and acknowledges what it made durable. A handler that acknowledges after it returns
 * (to overlap its side effects with the next batch) returns the promise of that: the consumer keeps
 * telling the server the batch is being worked on until it settles.
 */
export type BatchHandler = (batch: JsMsg[]) => Promise<void | { settled: Promise<unknown> }>;

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
 *
 * Every message the server handed out and that is not settled yet (buffered here, in the handler, or
 * awaiting its late acknowledgement) gets a `working()` four times per `ack_wait`: the consumer's short
 * `ack_wait` then bounds how long a dead process's messages wait for redelivery, without redelivering the
 * messages of a live process that is merely slow (a large backlog, a slow database).
 */
export class BatchConsumer {
  private messages: ConsumerMessages | undefined;
  private pending: JsMsg[] = [];
  /** Batches handed to the handler and not settled yet. */
  private readonly held = new Set<JsMsg[]>();
  private progressTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private done = false;
  private loops: Promise<void>[] = [];
  private lastBatchAt = -Infinity;

  constructor(
    private readonly consumer: Consumer,
    private readonly handler: BatchHandler,
    private readonly log: Logger,
    private readonly options: BatchConsumerOptions = {},
  ) {}

  async start(): Promise<void> {
    const ackWait = (await this.consumer.info(true)).config.ack_wait;
    const ackWaitMs = ackWait === undefined ? ACK_WAIT_SECONDS * 1000 : millis(ackWait);
    // A callback rather than `for await`: each message is queued synchronously as the client parses it,
    // not through an async-generator step (a promise and a microtask per message).
    this.messages = await this.consumer.consume({ max_messages: this.options.prefetch ?? 2000, callback: (m) => this.receive(m) });
    this.loops = [this.untilClosed(this.messages), this.process()];
    this.progressTimer = setInterval(() => this.signalProgress(), Math.max(250, ackWaitMs / 4));
    this.progressTimer.unref();
  }

  /** Stops pulling, handles what was already received, then returns. */
  async stop(): Promise<void> {
    if (!this.messages) return;
    await this.messages.close().catch(() => {});
    await Promise.all(this.loops);
    clearInterval(this.progressTimer);
    this.messages = undefined;
  }

  /** Messages already acknowledged ignore it (the client sends nothing for them). */
  private signalProgress(): void {
    try {
      for (const m of this.pending) m.working();
      for (const batch of this.held) for (const m of batch) m.working();
    } catch (err) {
      // The connection is closed (shutting down): the server redelivers after ack_wait, as for a crash.
      this.log.debug({ err }, 'could not signal progress');
    }
  }

  private receive(m: JsMsg): void {
    this.pending.push(m);
    this.wake?.();
  }

  /** Resolves when the consumer stops (closed, or failed: the error is logged). */
  private async untilClosed(messages: ConsumerMessages): Promise<void> {
    try {
      const err = await messages.closed();
      if (err) this.log.error({ err }, 'event consumer stopped');
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
      this.held.add(batch);
      try {
        const late = await this.handler(batch);
        if (late) void late.settled.finally(() => this.held.delete(batch)).catch(() => {});
        else this.held.delete(batch);
      } catch (err) {
        this.held.delete(batch);
        this.log.error({ err, size: batch.length }, 'batch failed; it will be redelivered');
        for (const m of batch) m.nak(this.options.retryDelayMs ?? 1000);
      }
    }
  }
}
