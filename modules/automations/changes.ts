import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '../../core/log.ts';
import type { Names } from '../../core/names.ts';

/**
 * Tells every automations replica that automations changed (they reload within a second). A lost
 * notice costs at most the replicas' one-second version check.
 */
export function announceAutomationChange(nc: NatsConnection, names: Names, log: Logger): void {
  try {
    nc.publish(names.controlSubjects.automationChanges, '');
  } catch (err) {
    log.warn({ err }, 'could not announce an automation change; replicas pick it up at their next check');
  }
}
