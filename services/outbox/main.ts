import type { Runtime } from '../../infra/runtime.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { OutboxRelay } from './relay.ts';

/** Publishes run state-change events from the Postgres outbox to JetStream. */
export function createOutboxService(rt: Runtime, modules: Modules): Service {
  return new OutboxRelay({
    pg: rt.pg,
    nats: rt.nats,
    bus: rt.bus,
    log: rt.log,
    pgSchema: rt.names.pgSchema,
    channel: rt.names.pgChannels.outbox,
    onCommit: (listener) => modules.runs.store.writer.onCommit(listener),
  });
}
