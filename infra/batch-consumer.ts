import type { Consumer, ConsumerInfo, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { millis, type MsgHdrs } from '@nats-io/nats-core';
import type { Logger } from '../core/log.ts';
import { ACK_WAIT_SECONDS } from './bus.ts';

/**
 * What a batch handler uses of a JetStream message: nats.js's `JsMsg` has it all, and so has the
 * adapter of infra/lingering-pull.ts, so a handler serves either consumer.
 */
export interface ConsumedMessage {
  readonly data: Uint8Array;
  readonly subject: string;
  /** The stream sequence. */
  readonly seq: number;
  /** Delivered before (its delivery count is above 1). */
  readonly redelivered: boolean;
  readonly headers: MsgHdrs | undefined;
  ack(): void;
  /** Redeliver, at once or after `delayMs`. */
  nak(delayMs?: number): void;
  /** Restarts the message's `ack_wait`. */
  working(): void;
  /** Never redeliver it. */
  term(): void;
}

/**
 * Handles one batch and acknowledges what it made durable. A handler that acknowledges after it returns
 * (to overlap its side effects with the next batch) returns the promise of that: the consumer keeps
 * telling the server the batch is being worked on until it settles.
 */
export type BatchHandler<M extends ConsumedMessage = ConsumedMessage> = (batch: M[]) => Promise<void | { settled: Promise<unknown> }>;

export interface BatchOptions {
  /** Largest batch handed to the handler. */
  maxBatch?: number;
  /** Messages the client keeps buffered from the server. */
  prefetch?: number;
  /** Delay before a failed batch is redelivered. */
  retryDelayMs?: number;
}

export interface BatchConsumerOptions extends BatchOptions {
  /**
   * Batches start at most this often (default 0: at once). Under a steady stream, what arrives in between
   * joins one batch — one ack write and one round trip of the handler instead of one per message — at
   * most this much later; a message after a quiet spell is handled at once.
   */
  minBatchIntervalMs?: number;
}

/**
 * Runs a JetStream consumer as a group-commit loop: the first message is handled at once, and whatever
 * arrives while a batch is being handled forms the next batch. Latency stays low when idle and batches
 * grow under load. The handler acknowledges what it made durable; a batch whose handler throws is naked
 * for redelivery. Subclasses bring the messages (`open`, `close`, `receive`).
 *
 * Every message the server handed out and that is not settled yet (buffered here, in the handler, or
 * awaiting its late acknowledgement) gets a `working()` four times per `ack_wait`: the consumer's short
 * `ack_wait` then bounds how long a dead process's messages wait for redelivery, without redelivering the
 * messages of a live process that is merely slow (a large backlog, a slow database).
 */
export abstract class GroupCommitConsumer<M extends ConsumedMessage> {
  protected readonly pending: M[] = [];
  /** Batches handed to the handler and not settled yet. */
  private readonly held = new Set<M[]>();
  private progressTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private done = false;
  private loops: Promise<void>[] | undefined;
  private lastBatchAt = -Infinity;

  protected constructor(
    protected readonly consumer: Consumer,
    private readonly handler: BatchHandler<M>,
    protected readonly log: Logger,
    private readonly batching: { maxBatch: number; retryDelayMs: number; minBatchIntervalMs: number },
  ) {}

  /**
   * Starts receiving, calling `receive` for each message; `ended` settles (never rejects: a failure is
   * logged) once no more will come.
   */
  protected abstract open(info: ConsumerInfo): Promise<{ ended: Promise<void> }>;

  /** Stops receiving: `ended` settles soon after. */
  protected abstract close(): Promise<void>;

  /** Called when the handler takes a batch: there is room for more. */
  protected taken(): void {}

  async start(): Promise<void> {
    const info = await this.consumer.info(true);
    const ackWait = info.config.ack_wait;
    const ackWaitMs = ackWait === undefined ? ACK_WAIT_SECONDS * 1000 : millis(ackWait);
    const { ended } = await this.open(info);
    const untilEnded = ended.finally(() => {
      this.done = true;
      this.wake?.();
    });
    this.loops = [untilEnded, this.process()];
    this.progressTimer = setInterval(() => this.signalProgress(), Math.max(250, ackWaitMs / 4));
    this.progressTimer.unref();
  }

  /** Stops pulling, handles what was already received, then returns. */
  async stop(): Promise<void> {
    if (!this.loops) return;
    await this.close().catch(() => {});
    await Promise.all(this.loops);
    clearInterval(this.progressTimer);
    this.loops = undefined;
  }

  protected receive(m: M): void {
    this.pending.push(m);
    this.wake?.();
  }

  /** Messages already acknowledged ignore it (the client sends nothing for them). */
  private signalProgress(): void {
    this.tell(this.pending, (m) => m.working());
    for (const batch of this.held) this.tell(batch, (m) => m.working());
  }

  private tell(messages: M[], what: (m: M) => void): void {
    try {
      for (const m of messages) what(m);
    } catch (err) {
      // The connection is closed (shutting down): the server redelivers after ack_wait, as for a crash.
      this.log.debug({ err }, 'could not signal the server');
    }
  }

  private async process(): Promise<void> {
    const { maxBatch, minBatchIntervalMs } = this.batching;
    for (;;) {
      if (this.pending.length === 0) {
        if (this.done) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const wait = this.lastBatchAt + minBatchIntervalMs - performance.now();
      if (wait > 0 && this.pending.length < maxBatch && !this.done) await new Promise((r) => setTimeout(r, wait));
      this.lastBatchAt = performance.now();
      const batch = this.pending.splice(0, maxBatch);
      this.held.add(batch);
      this.taken();
      try {
        const late = await this.handler(batch);
        if (late) void late.settled.finally(() => this.held.delete(batch)).catch(() => {});
        else this.held.delete(batch);
      } catch (err) {
        this.held.delete(batch);
        this.log.error({ err, size: batch.length }, 'batch failed; it will be redelivered');
        this.tell(batch, (m) => m.nak(this.batching.retryDelayMs));
      }
    }
  }
}

/**
 * A GroupCommitConsumer over nats.js's `consume()`: a standing pull the server fills as messages arrive,
 * so each is handed over as soon as it is stored (the automations service, which a user waits for).
 */
export class BatchConsumer extends GroupCommitConsumer<JsMsg> {
  private messages: ConsumerMessages | undefined;
  private readonly prefetch: number;

  constructor(consumer: Consumer, handler: BatchHandler<JsMsg>, log: Logger, options: BatchConsumerOptions = {}) {
    super(consumer, handler, log, { maxBatch: options.maxBatch ?? 1000, retryDelayMs: options.retryDelayMs ?? 1000, minBatchIntervalMs: options.minBatchIntervalMs ?? 0 });
    this.prefetch = options.prefetch ?? 2000;
  }

  protected async open(): Promise<{ ended: Promise<void> }> {
    // A callback rather than `for await`: each message is queued synchronously as the client parses it,
    // not through an async-generator step (a promise and a microtask per message).
    this.messages = await this.consumer.consume({ max_messages: this.prefetch, callback: (m) => this.receive(m) });
    return { ended: this.untilClosed(this.messages) };
  }

  protected async close(): Promise<void> {
    await this.messages?.close();
    this.messages = undefined;
  }

  /** Resolves when the consumer stops (closed, or failed: the error is logged). */
  private async untilClosed(messages: ConsumerMessages): Promise<void> {
    try {
      const err = await messages.closed();
      if (err) this.log.error({ err }, 'event consumer stopped');
    } catch (err) {
      this.log.error({ err }, 'event consumer stopped');
    }
  }
}
