import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { ClosedConnectionError, createInbox, headers as natsHeaders, NoRespondersError, RequestError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';

/** What JetStream answers a publish it stored. */
export interface PubAck {
  stream: string;
  seq: number;
  /** True when the stream already held a message with this id (within its duplicate window). */
  duplicate: boolean;
}

interface Waiter {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
  subject: string;
  deadline: number;
}

/** What every answer of a JetStream publish is, stored or refused. */
interface PubAckAnswer {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code: number; description: string };
}

/**
 * JetStream publishes whose acknowledgements come back on one subscription of the connection.
 *
 * nats.js 3.3 makes each `js.publish` a generic request: a request object with a timer of its own (a
 * `setTimeout` per publish), a copy of the options, a deferred, and the answer parsed by the API path that
 * serves every JetStream call. On the paths that publish once per event (ingest, the automations
 * service's outcome events, the webhooks' delivery events) that was a quarter to a third of a publish's
 * CPU, and the publishes held a quarter of the automations service's allocations (docs/performance.md,
 * round 7). This sends the same protocol (an HPUB with `Nats-Msg-Id`; JetStream's PubAck JSON on the
 * reply subject), with one wildcard subscription for all the answers, a map from reply token to waiter,
 * and one timer that fails the publishes that were not answered in time.
 *
 * Errors are the library's own, so callers tell an outage from a refusal as before: TimeoutError (no
 * answer in time: stored or not, publish again with the same id), NoRespondersError (no stream takes
 * the subject: JetStream not ready), ClosedConnectionError, and JetStreamApiError for a refusal
 * (an `expected` header not met, a stream limit).
 */
export class JetStreamPublisher {
  private readonly prefix = `${createInbox()}.`;
  private readonly waiting = new Map<string, Waiter>();
  private next = 0;
  private readonly sweep: NodeJS.Timeout;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {
    const sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? this.failAll(err) : this.answer(msg)) });
    // The connection closed (or the subscription was dropped): nothing more will be answered.
    void sub.closed.then(() => this.failAll(new ClosedConnectionError()), (err: Error) => this.failAll(err));
    // Waiters are kept in the order sent, all with the same timeout, so a sweep stops at the first live one.
    this.sweep = setInterval(() => this.expire(), Math.max(50, Math.min(1000, timeoutMs / 4)));
    this.sweep.unref();
  }

  /** Publishes `data` to `subject` with the message id `msgId`; resolves with JetStream's acknowledgement. */
  publish(subject: string, data: Uint8Array, msgId: string, headers?: MsgHdrs): Promise<PubAck> {
    const token = (this.next++).toString(36);
    const h = headers ?? natsHeaders();
    h.set('Nats-Msg-Id', msgId);
    return new Promise<PubAck>((resolve, reject) => {
      // Throws (and so rejects) on a closed connection, an invalid subject or a payload over max_payload.
      this.nc.publish(subject, data, { reply: this.prefix + token, headers: h });
      this.waiting.set(token, { resolve, reject, subject, deadline: performance.now() + this.timeoutMs });
    });
  }

  /** Publishes waiting for their acknowledgement. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Stops the timer and fails what is still waiting (the connection is closing). */
  close(): void {
    clearInterval(this.sweep);
    this.failAll(new ClosedConnectionError());
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    // An answer after its timeout (the caller was told, and publishes again with the same id): ignored.
    if (!w) return;
    this.waiting.delete(token);
    if (msg.data.length === 0) {
      // A status, not an acknowledgement: 503 when no stream listens on the subject.
      const code = msg.headers?.code ?? 0;
      w.reject(code === 503 ? new NoRespondersError(w.subject) : new RequestError(`JetStream answered ${code} ${msg.headers?.description ?? ''}`.trim()));
      return;
    }
    let v: PubAckAnswer;
    try {
      v = JSON.parse(this.decoder.decode(msg.data)) as PubAckAnswer;
    } catch {
      w.reject(new JetStreamError('invalid ack response'));
      return;
    }
    if (v.error) w.reject(new JetStreamApiError(v.error));
    else if (typeof v.stream !== 'string' || v.stream === '' || typeof v.seq !== 'number') w.reject(new JetStreamError('invalid ack response'));
    else w.resolve({ stream: v.stream, seq: v.seq, duplicate: v.duplicate === true });
  }

  private expire(): void {
    const now = performance.now();
    for (const [token, w] of this.waiting) {
      if (w.deadline > now) return;
      this.waiting.delete(token);
      w.reject(new TimeoutError());
    }
  }

  private failAll(err: Error): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(err);
  }
}
