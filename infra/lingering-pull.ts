import type { Consumer, ConsumerInfo } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type MsgHdrs, type NatsConnection, type Status, type Subscription } from '@nats-io/nats-core';
import type { Logger } from '../core/log.ts';
import { GroupCommitConsumer, type BatchHandler, type BatchOptions, type ConsumedMessage } from './batch-consumer.ts';

/** The JetStream API of the bus's client (no domain, no API prefix of its own: infra/bus.ts). */
const API_PREFIX = '$JS.API';
/** How long a pull's answer may come after its `expires` before it counts as lost (a busy server). */
const ANSWER_MARGIN_MS = 2000;

const encoder = new TextEncoder();
const ACK = encoder.encode('+ACK');
const NAK = encoder.encode('-NAK');
const WPI = encoder.encode('+WPI');
// Bare: NATS 2.9 ignores a term that carries a reason.
const TERM = encoder.encode('+TERM');

export interface LingeringPullOptions extends BatchOptions {
  /**
   * Pulls start at most this often (default 20 ms), unless the last one came back full: what arrives in
   * between comes in one burst, one wake-up of this process and of the server instead of one per message.
   * A message after a quiet spell is handed over at once (the pull waiting for it is answered).
   */
  lingerMs?: number;
  /** How long a pull waits at the server for a first message before it is renewed (default 10 s). */
  idleWaitMs?: number;
}

/**
 * A GroupCommitConsumer that pulls, with a linger, instead of a standing pull the server fills message by
 * message (BatchConsumer's `consume()`): on a VM each wake-up of a sleeping process costs 60–150 µs of CPU
 * on both ends; at 1,250 messages/s this saves about 30 µs of CPU per message, two thirds of it in the
 * NATS server (docs/performance.md). For a consumer nobody waits for within 20 ms (the recorder);
 * latency-critical ones keep BatchConsumer.
 *
 * Each pull is `{"batch": n, "no_wait": true, "expires": idle}` to the consumer's `MSG.NEXT` subject. NATS
 * 2.9 answers it with what is there (then a 408 if fewer than `n`: nothing follows a full batch) or, when
 * there is nothing, waits up to `expires` for the first message and answers with that (a 408 then; a 408
 * alone at expiry): one kind of request is both the poll under load and the wait when idle. All pulls
 * answer to one inbox subscription; a status message carries its pull's token, so a late one of an
 * abandoned pull is ignored, and every message is taken whichever pull it answers (the server counted it
 * delivered). Every pull has a client-side deadline, and a reconnect abandons the current one: a pull lost
 * on the way, or unanswered (a pull for a deleted consumer gets no answer at all), never stalls the loop.
 */
export class LingeringPullConsumer extends GroupCommitConsumer<ConsumedMessage> {
  private readonly maxBatch: number;
  private readonly prefetch: number;
  private readonly lingerMs: number;
  private readonly idleWaitMs: number;
  private readonly retryDelayMs: number;
  private sub: Subscription | undefined;
  private status: AsyncIterable<Status> | undefined;
  private inbox = '';
  private nextSubject = '';
  private pulls = 0;
  private current: Pull | undefined;
  private stopping = false;
  /** Ends the loop's current wait (a linger, a retry delay, or for room): stop() and a close. */
  private interrupt: (() => void) | undefined;
  /** Ends a wait for room in the buffer. */
  private roomFreed: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    consumer: Consumer,
    handler: BatchHandler<ConsumedMessage>,
    log: Logger,
    options: LingeringPullOptions = {},
  ) {
    const maxBatch = Math.max(options.maxBatch ?? 1000, 1);
    const retryDelayMs = options.retryDelayMs ?? 1000;
    // No interval between batches here: the pulls' linger already spaces what arrives.
    super(consumer, handler, log, { maxBatch, retryDelayMs, minBatchIntervalMs: 0 });
    this.maxBatch = maxBatch;
    this.prefetch = Math.max(options.prefetch ?? 2000, 1);
    this.lingerMs = options.lingerMs ?? 20;
    this.idleWaitMs = options.idleWaitMs ?? 10_000;
    this.retryDelayMs = retryDelayMs;
  }

  protected async open(info: ConsumerInfo): Promise<{ ended: Promise<void> }> {
    this.nextSubject = `${API_PREFIX}.CONSUMER.MSG.NEXT.${info.stream_name}.${info.name}`;
    this.inbox = createInbox();
    this.sub = this.nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => this.answer(err, m) });
    this.status = this.nc.status();
    void this.watch(this.status);
    return { ended: this.loop() };
  }

  protected async close(): Promise<void> {
    this.stopping = true;
    this.current?.finish('stopped');
    this.interrupt?.();
    // nats.js's iterator has a stop() its type does not show (its own consume() calls it the same way).
    (this.status as { stop?: () => void } | undefined)?.stop?.();
    // Without interest the server drops the waiting pull rather than deliver to it (and what it sent just
    // now is redelivered after ack_wait, as for a crash).
    this.sub?.unsubscribe();
  }

  protected override taken(): void {
    this.roomFreed?.();
  }

  private async loop(): Promise<void> {
    try {
      let lingerFrom = -Infinity;
      let full = false;
      while (!this.stopping && !this.closing()) {
        if (this.pending.length >= this.prefetch) {
          await this.pause(undefined);
          continue;
        }
        const linger = full ? 0 : lingerFrom + this.lingerMs - performance.now();
        if (linger > 0) {
          await this.pause(linger);
          continue;
        }
        const startedAt = performance.now();
        const end = await this.pull(Math.min(this.maxBatch, this.prefetch - this.pending.length));
        // The linger runs from the first message: one that ends a quiet spell is followed 20 ms later by
        // whatever came after it, not at once by a pull that waits for the next one.
        lingerFrom = end.firstAt ?? startedAt;
        full = end.outcome === 'full';
        if (end.outcome === 'refused') {
          this.log.warn({ code: end.code, description: end.description }, 'pull refused by the server; pulling again shortly');
          await this.pause(this.retryDelayMs);
        } else if (end.outcome === 'lost') {
          this.log.warn({ after_ms: Math.round(performance.now() - startedAt) }, 'pull unanswered; pulling again');
        } else if (end.outcome === 'failed') {
          if (this.closing()) break;
          this.log.error({ err: end.err }, 'could not pull; pulling again shortly');
          await this.pause(this.retryDelayMs);
        }
      }
      if (!this.stopping) this.log.error('event consumer stopped: the connection is closed');
    } catch (err) {
      this.log.error({ err }, 'event consumer stopped');
    }
  }

  /** Closed, or closing (a drain: no more publishing). */
  private closing(): boolean {
    return this.nc.isClosed() || this.nc.isDraining();
  }

  /** One pull, resolved when it is answered in full, ended by the server, or abandoned. */
  private pull(batch: number): Promise<PullEnd> {
    const token = (this.pulls++).toString(36);
    return new Promise<PullEnd>((resolve) => {
      const pull: Pull = {
        reply: `${this.inbox}.${token}`,
        batch,
        got: 0,
        firstAt: undefined,
        finish: (outcome, detail = {}) => {
          if (this.current !== pull) return;
          this.current = undefined;
          clearTimeout(deadline);
          resolve({ outcome, firstAt: pull.firstAt, ...detail });
        },
      };
      const deadline = setTimeout(() => pull.finish('lost'), this.idleWaitMs + ANSWER_MARGIN_MS);
      this.current = pull;
      try {
        const request = JSON.stringify({ batch, no_wait: true, expires: nanos(this.idleWaitMs) });
        this.nc.publish(this.nextSubject, encoder.encode(request), { reply: pull.reply });
      } catch (err) {
        pull.finish('failed', { err });
      }
    });
  }

  private answer(err: Error | null, m: Msg): void {
    if (err) {
      this.log.error({ err }, 'pull inbox failed');
      return;
    }
    const pull = this.current;
    if (m.reply) {
      // Only JetStream messages are acknowledged through their reply; nothing else is sent here.
      if (!m.reply.startsWith('$JS.ACK.')) return;
      this.receive(new PulledMessage(m));
      if (pull) {
        pull.firstAt ??= performance.now();
        if (++pull.got >= pull.batch) pull.finish('full');
      }
      return;
    }
    // A status message comes to the pull's own subject: one for an abandoned pull is out of date.
    if (!pull || m.subject !== pull.reply) return;
    const code = m.headers?.code ?? 0;
    // 100: an idle heartbeat (not asked for). 404 / 408: nothing (more) there, or expired.
    if (code === 100) return;
    if (code === 404 || code === 408) pull.finish('ended');
    // 409 (the consumer deleted, a leadership change, too many waiting pulls), 400, 503...
    else pull.finish('refused', { code, description: m.headers?.description ?? '' });
  }

  /** A reconnect abandons the current pull (the server may have lost it); a close ends the loop. */
  private async watch(status: AsyncIterable<Status>): Promise<void> {
    try {
      for await (const s of status) if (s.type === 'reconnect') this.current?.finish('reset');
    } catch {
      // The iterator ends with the connection either way.
    }
    this.current?.finish('failed');
    this.interrupt?.();
  }

  /** Waits `ms` (undefined: until the handler takes a batch), or until stop() or a close. */
  private pause(ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.interrupt = undefined;
        this.roomFreed = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.interrupt = done;
      if (ms === undefined) this.roomFreed = done;
      if (this.stopping || this.closing()) done();
    });
  }
}

type PullOutcome = 'full' | 'ended' | 'refused' | 'lost' | 'reset' | 'failed' | 'stopped';

interface PullEnd {
  outcome: PullOutcome;
  /** When its first message came (none: it brought nothing). */
  firstAt: number | undefined;
  code?: number;
  description?: string;
  err?: unknown;
}

interface Pull {
  /** The inbox subject with this pull's token. */
  readonly reply: string;
  readonly batch: number;
  /** Messages received since it was sent (those of an abandoned pull count too: it only ends it sooner). */
  got: number;
  firstAt: number | undefined;
  finish(outcome: PullOutcome, detail?: Pick<PullEnd, 'code' | 'description' | 'err'>): void;
}

/**
 * A pulled JetStream message: its reply subject is where its acknowledgement goes, and it carries the
 * delivery details, `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>`
 * (servers with a domain put `<domain>.<account hash>` after `$JS.ACK` and a token at the end).
 */
class PulledMessage implements ConsumedMessage {
  private settled = false;
  private delivery: { count: number; seq: number } | undefined;

  constructor(private readonly msg: Msg) {}

  get data(): Uint8Array {
    return this.msg.data;
  }

  get subject(): string {
    return this.msg.subject;
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }

  get seq(): number {
    return this.parsed().seq;
  }

  get redelivered(): boolean {
    return this.parsed().count > 1;
  }

  ack(): void {
    this.settle(ACK);
  }

  nak(delayMs?: number): void {
    this.settle(delayMs ? encoder.encode(`-NAK ${JSON.stringify({ delay: nanos(delayMs) })}`) : NAK);
  }

  term(): void {
    this.settle(TERM);
  }

  /** Nothing once settled, like nats.js's: it would cost a write, or put off the redelivery a nak asked for. */
  working(): void {
    if (!this.settled) this.send(WPI);
  }

  private settle(payload: Uint8Array): void {
    if (this.settled) return;
    this.settled = true;
    this.send(payload);
  }

  private send(payload: Uint8Array): void {
    try {
      this.msg.respond(payload);
    } catch {
      // Closed (shutting down): what was not acknowledged comes back after ack_wait, as after a crash.
    }
  }

  private parsed(): { count: number; seq: number } {
    if (!this.delivery) {
      const t = (this.msg.reply ?? '').split('.');
      const at = t.length === 9 ? 4 : 6;
      this.delivery = { count: Number(t[at]), seq: Number(t[at + 1]) };
    }
    return this.delivery;
  }
}
