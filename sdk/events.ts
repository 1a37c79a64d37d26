import { scrubRevealed } from './revealed.ts';
import type { NatsConnection } from '@nats-io/nats-core';
import { EventBus } from '../infra/bus.ts';
import { loadConfig, type Config } from '../core/config.ts';
import { connectNats } from '../infra/connections.ts';
import { normalizeEvents } from '../core/events.ts';
import { names } from '../core/names.ts';
import type { EventInput, ReflexEvent, RelatedResource } from '../schemas/event.ts';
import { currentRelatedResources, runContext } from './context.ts';

export interface EmitOptions {
  /** Publish through this bus (a service or worker that already has one) instead of the SDK's own connection. */
  bus?: EventBus;
}

interface Connection {
  nc: NatsConnection;
  bus: EventBus;
  config: Config;
}

// On globalThis so a flows module with its own copy of the SDK shares one connection with the worker.
const KEY = Symbol.for('reflex.sdk.events');
const g = globalThis as typeof globalThis & { [KEY]?: { connection: Promise<Connection> | undefined } };
const state = (g[KEY] ??= { connection: undefined });

/** Connects once, from the REFLEX_* environment, and reuses the connection for every later emit. */
function connection(): Promise<Connection> {
  state.connection ??= (async () => {
    const config = loadConfig();
    const nc = await connectNats(config.natsUrl, config.connectTimeoutMs, `reflex-sdk-${config.namespace}`);
    try {
      const bus = await EventBus.open(nc, names(config.namespace), { retentionDays: config.eventRetentionDays });
      return { nc, bus, config };
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  })().catch((err: unknown) => {
    // A failed connect is retried by the next emit rather than remembered forever.
    state.connection = undefined;
    throw err;
  });
  return state.connection;
}

function mergeRelated(own: RelatedResource[], context: RelatedResource[]): RelatedResource[] {
  const key = (r: RelatedResource) => `${r['reflex.resource.id']}\u0000${r['reflex.resource.role']}`;
  const seen = new Set(own.map(key));
  return [...own, ...context.filter((r) => !seen.has(key(r)) && seen.add(key(r)))];
}

/**
 * Publishes an event straight to NATS JetStream and resolves with the event as stored once JetStream has
 * acknowledged it. Inside a flow or task run, the run is added to `related`. Supplying `id` makes the call
 * idempotent: JetStream drops a republished id within its duplicate window, and the recorder stores it once.
 *
 * Without `options.bus` it uses the bus of the run's engine (in a worker) or connects from the REFLEX_*
 * environment on first use; `closeEvents()` closes that connection so a script can exit.
 *
 * @throws ValidationError (invalid input, with field paths) or PayloadTooLargeError.
 */
export async function emitEvent(input: EventInput, options: EmitOptions = {}): Promise<ReflexEvent> {
  const engine = runContext.getStore()?.client;
  let bus = options.bus ?? engine?.bus;
  let maxPayloadBytes = engine?.maxPayloadBytes;
  if (!bus) {
    const c = await connection();
    bus = c.bus;
    maxPayloadBytes = c.config.maxPayloadBytes;
  }
  const [normalized] = normalizeEvents(input, { maxPayloadBytes: maxPayloadBytes ?? envPayloadLimit(), maxEventBytes: bus.maxEventBytes });
  // Secret values getSecret() handed out in this process are masked in events too (sdk/revealed.ts).
  const event = scrubEvent(normalized);
  event.related = mergeRelated(event.related, currentRelatedResources());
  await bus.publish(event);
  return event;
}

function scrubEvent(event: ReflexEvent): ReflexEvent {
  const text = JSON.stringify(event);
  const scrubbed = scrubRevealed(text);
  return scrubbed === text ? event : (JSON.parse(scrubbed) as ReflexEvent);
}

let payloadLimit: number | undefined;
function envPayloadLimit(): number {
  payloadLimit ??= loadConfig().maxPayloadBytes;
  return payloadLimit;
}

/** Closes the SDK's own NATS connection (a no-op when none was opened). */
export async function closeEvents(): Promise<void> {
  const pending = state.connection;
  state.connection = undefined;
  if (!pending) return;
  const c = await pending.catch(() => undefined);
  await c?.nc.drain().catch(() => {});
}
