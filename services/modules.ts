import type { Runtime } from '../infra/runtime.ts';
import { createRuns, type Runs } from '../modules/runs/index.ts';
import { ReflexError } from '../core/errors.ts';
import { getAutomation } from '../modules/automations/index.ts';
import { DeliveryQueue, SecretFiller } from '../modules/webhooks/index.ts';
import { resumedSuspensionSql } from '../modules/waits/index.ts';
import { automationRequester, KeyRing, Secrets } from '../modules/secrets/index.ts';

/**
 * The modules' stateful parts, built once per process from its runtime and handed to every service it
 * runs: one state writer batches every run change of the process, one cancellation subscriber serves
 * every worker slot, one set of queues serves every producer. Stateless parts (the SQL functions of each
 * module) are imported directly.
 */
export interface Modules {
  readonly runs: Runs;
  readonly deliveries: DeliveryQueue;
  // Secrets (issue 13): sealed with the process's REFLEX_SECRETS_KEY.
  readonly secrets: Secrets;
  /** Fills a delivery's secret markers in at send time (the webhook service, and the automations service's direct attempts). */
  readonly deliverySecrets: SecretFiller;
}

export function createModules(rt: Runtime): Modules {
  const secrets = new Secrets(rt.pg, new KeyRing(rt.config.secretsKey, rt.config.secretsPreviousKeys));
  return {
    runs: createRuns({ pg: rt.pg, redis: rt.redis, names: rt.names, log: rt.log, queues: rt.queues, redisConnection: rt.redisConnection, resumedSuspensionSql }),
    deliveries: new DeliveryQueue(rt.queues, rt.log),
    secrets,
    deliverySecrets: new SecretFiller({
      automationName: async (id) => {
        try {
          return (await getAutomation(rt.pg, id)).name;
        } catch (err) {
          if (err instanceof ReflexError && err.code === 'not_found') return null;
          throw err;
        }
      },
      resolve: (names, automation) => secrets.resolve(names, automationRequester(automation)),
    }),
  };
}
