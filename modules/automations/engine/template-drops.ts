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

/** Distinct variables one action's templates may read: a loop over generated names must not become thousands of queries. */
export const MAX_VARIABLES_PER_ACTION = 50;

/** `{{ variables.NAME }}`: the variable's JSON value (through the service's short cache), nil when unset. */
export class VariableValues extends Drop {
  private readonly seen = new Map<string, Promise<unknown>>();

  constructor(private readonly read: ((name: string) => Promise<unknown>) | undefined) {
    super();
  }

  override liquidMethodMissing(name: string): Promise<unknown> | undefined {
    if (!this.read || typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) return undefined;
    let value = this.seen.get(name);
    if (!value) {
      if (this.seen.size >= MAX_VARIABLES_PER_ACTION) throw new ActionFailure(`an action's templates read at most ${MAX_VARIABLES_PER_ACTION} variables`);
      value = this.read(name);
      this.seen.set(name, value);
    }
    return value;
  }
}
