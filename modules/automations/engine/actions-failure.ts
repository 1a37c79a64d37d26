import { ReflexError } from '../../../core/errors.ts';

/** An action that cannot succeed as written: recorded as a failed outcome with this reason, not retried. */
export class ActionFailure extends ReflexError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('action_failed', message, options);
  }
}
