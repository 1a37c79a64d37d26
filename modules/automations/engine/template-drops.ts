import { Drop } from 'liquidjs';
import { secretMarker, SECRET_NAME_PATTERN } from '../../../core/secret-refs.ts';
import { ActionFailure } from './actions-failure.ts';

/**
 * `secrets` and `variables` in action templates. Both are Liquid drops: a template reads
 * `secrets.NAME` / `variables.NAME` (or `["NAME"]`), and only the names it reads are looked up.
 */

/** `{{ secrets.NAME }}` renders a marker the webhook service fills in at send time, never the value. */
export class SecretMarkers extends Drop {
  constructor(private readonly nonce: string) {
    super();
  }

  override liquidMethodMissing(name: string): string {
    if (!SECRET_NAME_PATTERN.test(name)) throw new ActionFailure(`secrets.${name}: not a secret name`);
    return secretMarker(name, this.nonce);
  }
}

/** Outside call-webhook and send-notification a secret would end up in plain in a run, an event or a command: refused. */
export class NoSecrets extends Drop {
  override liquidMethodMissing(name: string): never {
    throw new ActionFailure(`secrets.${name}: secrets can only be used in call-webhook and send-notification actions (they are filled in at send time)`);
  }
}

/** `{{ variables.NAME }}`: the variable's JSON value (through the service's short cache), nil when unset. */
export class VariableValues extends Drop {
  constructor(private readonly read: ((name: string) => Promise<unknown>) | undefined) {
    super();
  }

  override liquidMethodMissing(name: string): Promise<unknown> | undefined {
    return this.read?.(name);
  }
}
