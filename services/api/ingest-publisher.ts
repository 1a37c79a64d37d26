import type { EncodedEvent } from '../../core/events.ts';
import type { PublishResult } from '../../infra/bus.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { activeContext, withContext, type Context } from '../../infra/tracing.ts';

interface Pending {
  e: EncodedEvent;
  ctx: Context | undefined;
  resolve(r: PublishResult): void;
  reject(err: unknown): void;
}

/**
 * Group commit of ingest's JetStream publishes. The events of every request handled in one turn of the
 * event loop are published in one synchronous pass at the end of the turn (setImmediate), so nats.js
 * writes them to its socket in one write, where one publish per request meant one write (and one wake-up
 * of the server) each. Nothing waits for an earlier batch: a batch leaves in the turn its requests arrived
 * in, so a lone request is not delayed. Each request still awaits the acknowledgement of its own events
 * (202 only once JetStream stored them), and a publish that fails fails only the request it belongs to.
 */
export class IngestPublisher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly rt: Runtime) {}

  /** Resolves once JetStream has stored every event; rejects if any was not (as bus.publishMany). */
  publish(events: EncodedEvent[]): Promise<PublishResult[]> {
    // The trace context of the request, so each message carries its own request's traceparent.
    const ctx = activeContext();
    const acks = events.map((e) => new Promise<PublishResult>((resolve, reject) => void this.pending.push({ e, ctx, resolve, reject })));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return Promise.all(acks);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const p of batch) {
      const { event, json } = p.e;
      withContext(p.ctx, () => this.rt.bus.publishSerialized(event.event, event.id, json)).then(p.resolve, p.reject);
    }
  };
}

const perRuntime = new WeakMap<Runtime, IngestPublisher>();

/** The one ingest publisher of a runtime. */
export function ingestPublisher(rt: Runtime): IngestPublisher {
  let publisher = perRuntime.get(rt);
  if (!publisher) perRuntime.set(rt, (publisher = new IngestPublisher(rt)));
  return publisher;
}
