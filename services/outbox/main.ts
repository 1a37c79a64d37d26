import type { Runtime, Service } from '../../infra/runtime.ts';
import { OutboxRelay } from './relay.ts';

/** Publishes run state-change events from the Postgres outbox to JetStream. */
export function createOutboxService(rt: Runtime): Service {
  return new OutboxRelay(rt);
}
