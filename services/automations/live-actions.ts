import type { Logger } from '../../core/log.ts';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Names } from '../../core/names.ts';
import { ReflexError } from '../../core/errors.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Pool } from '../../infra/db.ts';
import { ActionFailure, announceAutomationChange, setAutomationEnabled, type ActionDeps } from '../../modules/automations/index.ts';
import type { Runs } from '../../modules/runs/index.ts';
import type { DeliveryQueue } from '../../modules/webhooks/index.ts';
import type { VariableCache } from '../../modules/variables/index.ts';
import type { DirectDeliveries } from './direct-deliveries.ts';

export interface LiveActionsDeps {
  pg: Pool;
  bus: EventBus;
  nats: NatsConnection;
  names: Names;
  log: Logger;
  commands: Runs['commands'];
  deliveries: DeliveryQueue;
  /** First attempts made here when the host is healthy (REFLEX_WEBHOOK_DIRECT); absent: every delivery is queued. */
  direct?: DirectDeliveries;
  maxPayloadBytes: number;
  /** Variables for templates (issue 13), through a short cache; the public URL notifications link runs to. */
  variables?: VariableCache;
  publicUrl?: string;
}

/** The real side effects of automation actions: the webhook queue, the runs module's commands, the bus. */
export function liveActionDeps(d: LiveActionsDeps): ActionDeps {
  return {
    async deliver(data) {
      // 'direct': this process makes the first attempt (services/automations/direct-deliveries.ts).
      if (d.direct) return (await d.direct.deliver(data)) === 'direct' ? 'direct' : d.names.queues.webhookDeliveries;
      await d.deliveries.enqueue(data);
      return d.names.queues.webhookDeliveries;
    },
    // Executed here rather than queued for another service: one queue hop less between an event and the
    // flow run it starts, and the outcome names the run.
    async command(data) {
      try {
        return await d.commands.execute(data);
      } catch (err) {
        if (err instanceof ReflexError && err.status < 500) throw new ActionFailure(err.message, { cause: err });
        throw err;
      }
    },
    publish: async (event) => {
      await d.bus.publish(event);
    },
    async setEnabled(id, enabled) {
      const changed = await setAutomationEnabled(d.pg, id, enabled);
      if (changed) announceAutomationChange(d.nats, d.names, d.log);
      return changed;
    },
    maxPayloadBytes: d.maxPayloadBytes,
    variable: async (name) => (d.variables ? (await d.variables.values([name]))[name] : undefined),
    publicUrl: d.publicUrl,
  };
}
