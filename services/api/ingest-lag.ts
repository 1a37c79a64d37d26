import { IngestOverloadedError } from '../../core/errors.ts';
import { isConsumerNotFound } from '../../infra/nats-errors.ts';
import type { Runtime } from '../../infra/runtime.ts';

/** How old a lag reading may be before the next request refreshes it (in the background). */
const REFRESH_MS = 250;
const RETRY_AFTER_SECONDS = 1;

export interface LagReading {
  /** Events the slower of the recorder and automations consumers has not yet acknowledged. */
  lag: number;
  recorder: number;
  /** Of the users' events consumer plus the engine's events consumer (while it exists). */
  automations: number;
  /** REFLEX_INGEST_MAX_LAG (0: ingest never refuses). */
  bound: number;
  overloaded: boolean;
  read_at: string | null;
}

/**
 * The engine's lag as ingest sees it: pending plus unacknowledged messages of the consumers of the
 * events stream (the recorder; the automations service's, users' and engine's events), read from JetStream at most every 250 ms. A request never waits for the reading: it uses
 * the last one and starts a refresh when that is stale, so the check adds no round trip to ingest.
 * An unreadable lag (JetStream down, the consumer not yet created) never refuses: publishing says why.
 */
export class IngestLag {
  private reading: LagReading;
  private readAt = 0;
  private refreshing: Promise<void> | undefined;
  private warnedAt = 0;

  constructor(private readonly rt: Runtime) {
    this.reading = { lag: 0, recorder: 0, automations: 0, bound: rt.config.ingestMaxLag, overloaded: false, read_at: null };
  }

  /** Throws IngestOverloadedError while the last reading is over the bound. */
  check(): void {
    const bound = this.rt.config.ingestMaxLag;
    if (bound === 0) return;
    if (Date.now() - this.readAt > REFRESH_MS) void this.refresh();
    const r = this.reading;
    if (r.lag > bound) {
      if (Date.now() - this.warnedAt > 10_000) {
        this.warnedAt = Date.now();
        this.rt.log.warn({ lag: r.lag, recorder: r.recorder, automations: r.automations, bound }, 'ingest refuses events: the engine is behind (REFLEX_INGEST_MAX_LAG)');
      }
      throw new IngestOverloadedError(r.lag, bound, RETRY_AFTER_SECONDS);
    }
  }

  /** A fresh reading (for /api/health). */
  async read(): Promise<LagReading> {
    await this.refresh();
    return this.reading;
  }

  /** A fresh reading, or the last one when JetStream does not answer within `timeoutMs` (health must answer while NATS is down). */
  async readWithin(timeoutMs: number): Promise<LagReading> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<LagReading>((resolve) => {
      timer = setTimeout(() => resolve(this.reading), timeoutMs);
    });
    try {
      return await Promise.race([this.read(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private refresh(): Promise<void> {
    return (this.refreshing ??= (async () => {
      try {
        const n = this.rt.names;
        const pending = async (durable: string) => {
          const info = await this.rt.bus.jsm.consumers.info(n.streams.events, durable);
          return info.num_pending + info.num_ack_pending;
        };
        // The engine's events have a consumer only while an automation can match one (services/automations).
        const engine = () => pending(n.consumers.automationsEngine).catch((err: unknown) => {
          if (isConsumerNotFound(err)) return 0;
          throw err;
        });
        const [recorder, users, engineLag] = await Promise.all([pending(n.consumers.recorder), pending(n.consumers.automations), engine()]);
        const automations = users + engineLag;
        const lag = Math.max(recorder, automations);
        const bound = this.rt.config.ingestMaxLag;
        this.reading = { lag, recorder, automations, bound, overloaded: bound > 0 && lag > bound, read_at: new Date().toISOString() };
      } catch {
        // Unknown: keep ingest open (a JetStream outage fails the publish with its own clear answer).
        this.reading = { ...this.reading, lag: 0, overloaded: false };
      } finally {
        this.readAt = Date.now();
        this.refreshing = undefined;
      }
    })());
  }
}

const perRuntime = new WeakMap<Runtime, IngestLag>();

/** The one lag tracker of a runtime, shared by the ingest routes and the health route. */
export function ingestLag(rt: Runtime): IngestLag {
  let lag = perRuntime.get(rt);
  if (!lag) perRuntime.set(rt, (lag = new IngestLag(rt)));
  return lag;
}
