import { ReflexError } from '../../core/errors.ts';

/** Storing (or reading) a secret needs a key the process does not have. */
export class SecretsNotConfiguredError extends ReflexError {
  constructor(message: string) {
    super('secrets_not_configured', message);
  }
}

/** Who asked for a secret: what they answer to in its grants, and how to name them in a refusal. */
export interface Requester {
  /** E.g. `deployment "etl/daily" (work pool "default")` or `automation "notify" (<id>)`. */
  label: string;
  deployments: string[];
  work_pools: string[];
  automations: string[];
}

/** A secret asked for by someone its grants do not name (or a secret that does not exist). */
export class SecretAccessDeniedError extends ReflexError {
  constructor(name: string, requester: Requester, why = 'is not granted to') {
    super('secret_access_denied', `secret "${name}" ${why} ${requester.label}`);
  }
}
