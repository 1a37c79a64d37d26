import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, nanos, type NatsConnection } from '@nats-io/nats-core';
import type { ReflexEvent } from '../schemas/event.ts';
import { DependencyUnavailableError } from '../core/errors.ts';
import type { Names } from '../core/names.ts';
import { JetStreamPublisher } from './js-publish.ts';
import { isAlreadyCreated, isConsumerNotFound, isStreamNotFound } from './nats-errors.ts';
import { currentTraceparent, tracingEnabled } from './tracing.ts';
import { isNatsOutage, RETRY_HINT } from './unavailable.ts';

/** How long JetStream remembers message ids to drop a republished event. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/**
 * Seconds before the server redelivers a message its consumer did not acknowledge: how long what a dead
 * replica held (its batch in hand and the messages it had buffered) waits before another replica, or the
 * restarted one, takes it: 8 s leaves room to handle them within 10 s of a crash. It does not bound how
 * long a batch may take: BatchConsumer tells the server the messages it holds are still being worked on
 * (`working()`) four times per period, so only an event loop stalled for 8 s causes a redelivery (which
 * the consumers' idempotence absorbs).
 */
export const ACK_WAIT_SECONDS = 8;

export interface PublishResult {
  id: string;
  seq: number;
  /** True when JetStream had already stored an event with this id (within its duplicate window). */
  duplicate: boolean;
}

export interface ConsumerOptions {
  /** Where a new durable consumer starts: `all` (default) or `new` (only events published from now on). */
  deliver?: 'all' | 'new';
  /** Most unacknowledged messages the server hands out at once. */
  maxAckPending?: number;
  /** Seconds before an unacknowledged message is redelivered (default ACK_WAIT_SECONDS). */
  ackWaitSeconds?: number;
  /** The one subject filter (NATS 2.9 takes one); none: the whole stream. An existing consumer's is brought up to date. */
  filter?: string;
  /** A new consumer starts at the first message stored at or after this time (overrides `deliver`). */
  startTime?: Date;
}

/**
 * The event bus: owns the events stream and its durable consumers. Each message's data is the event as
 * JSON exactly as schemas/event.ts defines it, and its message id is the event id, so any NATS client can
 * read events and JetStream drops a republished event.
 */
export class EventBus {
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  /** False from a disconnect to the reconnect: a publish then fails at once instead of timing out. */
  private connected = true;
  /** Every event publish goes through it (not `js.publish`, see infra/js-publish.ts). */
  private readonly publisher: JetStreamPublisher;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly names: Names,
  ) {
    this.publisher = new JetStreamPublisher(nc);
    void this.watchConnection();
  }

  private async watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      else if (s.type === 'reconnect') this.connected = true;
    }
  }

  /**
   * While the connection is down nats.js would buffer a publish and its request would time out after
   * 5 s; callers (an HTTP request, a consumer batch) are better served by a fast, typed failure.
   */
  private unavailable(cause: unknown): DependencyUnavailableError {
    return new DependencyUnavailableError('NATS', `nats://${this.nc.getServer()}`, RETRY_HINT, cause);
  }

  static async open(
    nc: NatsConnection,
    n: Names,
    options: { retentionDays: number; ensureStream?: boolean },
  ): Promise<EventBus> {
    const jsm = await jetstreamManager(nc);
    const bus = new EventBus(nc, jetstream(nc), jsm, n);
    if (options.ensureStream ?? true) await bus.ensureStream(options.retentionDays);
    return bus;
  }

  private async ensureStream(retentionDays: number): Promise<void> {
    const config = {
      name: this.names.streams.events,
      subjects: this.names.eventFilterSubjects('*'),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_age: nanos(retentionDays * 24 * 3600 * 1000),
    };
    try {
      await this.jsm.streams.info(config.name);
      await this.jsm.streams.update(config.name, config);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      try {
        await this.jsm.streams.add(config);
      } catch (addErr) {
        // A replica starting at the same moment created it first.
        if (!isAlreadyCreated(addErr)) throw addErr;
      }
    }
  }

  /**
   * The largest event the bus takes, encoded: the server's `max_payload` less room for headers. Ingest
   * checks every event of a batch against it before publishing any, so a batch is never published in part.
   */
  get maxEventBytes(): number {
    return (this.nc.info?.max_payload ?? 1024 * 1024) - 4096;
  }

  encode(event: ReflexEvent): Uint8Array {
    return this.encoder.encode(JSON.stringify(event));
  }

  decode(data: Uint8Array): ReflexEvent {
    return JSON.parse(this.decoder.decode(data)) as ReflexEvent;
  }

  /**
   * Publishes one event and resolves once JetStream has stored it. Throws DependencyUnavailableError when
   * NATS is disconnected or does not answer (the event may then be stored or not: publish it again with
   * the same id, JetStream drops the duplicate).
   */
  publish(event: ReflexEvent): Promise<PublishResult> {
    return this.publishBytes(this.names.eventSubject(event.event), event.id, this.encode(event));
  }

  /**
   * Publishes an event stored as JSON text (the outbox), without parsing and re-encoding it; `name` and
   * `id` are the event's own.
   */
  publishSerialized(name: string, id: string, json: string): Promise<PublishResult> {
    return this.publishBytes(this.names.eventSubject(name), id, this.encoder.encode(json));
  }

  private async publishBytes(subject: string, id: string, data: Uint8Array): Promise<PublishResult> {
    if (!this.connected) throw this.unavailable('disconnected; reconnecting');
    try {
      // W3C trace context in the message headers, so the consumers continue the publisher's trace.
      const traceparent = tracingEnabled() ? currentTraceparent() : undefined;
      let headers;
      if (traceparent) {
        headers = natsHeaders();
        headers.set('traceparent', traceparent);
      }
      const ack = await this.publisher.publish(subject, data, id, headers);
      return { id, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw isNatsOutage(err) ? this.unavailable(err) : err;
    }
  }

  /** Publishes events concurrently; resolves once every one is stored, rejects if any is not. */
  publishMany(events: ReflexEvent[]): Promise<PublishResult[]> {
    return Promise.all(events.map((e) => this.publish(e)));
  }

  /**
   * Creates a durable pull consumer on the events stream (or brings an existing one's `ack_wait` up to
   * date, so a deployment that upgrades gets the shorter recovery) and returns it.
   */
  async consumer(durable: string, options: ConsumerOptions = {}): Promise<Consumer> {
    const stream = this.names.streams.events;
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ...(options.startTime
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.startTime.toISOString() }
        : { deliver_policy: options.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All }),
      max_ack_pending: options.maxAckPending ?? 20_000,
      ack_wait: nanos((options.ackWaitSeconds ?? ACK_WAIT_SECONDS) * 1000),
      ...(options.filter ? { filter_subject: options.filter } : {}),
    };
    try {
      const info = await this.jsm.consumers.info(stream, durable);
      // A consumer made before the engine's events had a tree of their own read the whole stream: its
      // filter is narrowed in place (it keeps its position; what it no longer reads, the engine consumer does).
      const narrow = options.filter !== undefined && info.config.filter_subject !== options.filter;
      if (info.config.ack_wait !== config.ack_wait || narrow) {
        await this.jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait, ...(narrow ? { filter_subject: options.filter } : {}) });
      }
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
      try {
        await this.jsm.consumers.add(stream, config);
      } catch (addErr) {
        if (!isAlreadyCreated(addErr)) throw addErr;
      }
    }
    return this.js.consumers.get(stream, durable);
  }

  /**
   * An ordered, ephemeral consumer of the events stream from `startTime` (flow authors, issue 13): what a
   * flow waiting for an event reads. Starting at a time covers the events stored before the wait and those
   * arriving after it in one sequence, so there is no gap between a lookup and a subscription.
   */
  async orderedFrom(subject: string | undefined, startTime: Date): Promise<Consumer> {
    // One subject, or none for every event: NATS before 2.10 takes no list of filter subjects.
    return this.js.consumers.get(this.names.streams.events, {
      ...(subject ? { filter_subjects: subject } : {}),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: startTime.toISOString(),
    });
  }
}
