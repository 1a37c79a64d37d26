import { ValidationError } from '../../core/errors.ts';
import { SECRET_MASK, type Action, type Automation, type AutomationDocument } from '../../schemas/automation.ts';

export { SECRET_MASK };

/**
 * Signing secrets written in an action (a call-webhook's `secret`, a webhook notification's
 * `destination.secret`) are write-only: every read of an automation shows them as SECRET_MASK, and an
 * update that sends SECRET_MASK back keeps the stored secret of that action. A `{"secret": "NAME"}`
 * reference is no value and reads as it is.
 */

type Signing = string | { secret: string } | undefined;

function signingOf(a: Action): Signing {
  if (a.type === 'call-webhook') return a.secret;
  if (a.type === 'send-notification' && a.destination.type === 'webhook') return a.destination.secret;
  return undefined;
}

function withSigning(a: Action, secret: Signing): Action {
  if (a.type === 'call-webhook') return { ...a, secret };
  if (a.type === 'send-notification' && a.destination.type === 'webhook') return { ...a, destination: { ...a.destination, secret } };
  return a;
}

const maskAction = (a: Action): Action => {
  const s = signingOf(a);
  return typeof s === 'string' && s ? withSigning(a, SECRET_MASK) : a;
};

export function maskSecrets<T extends Pick<Automation, 'actions' | 'actions_on_resolve'>>(automation: T): T {
  return { ...automation, actions: automation.actions.map(maskAction), actions_on_resolve: automation.actions_on_resolve.map(maskAction) };
}

/** Replaces each SECRET_MASK with the secret the current version holds at the same place; refuses a mask with nothing behind it. */
export function restoreSecrets(doc: AutomationDocument, current: Pick<AutomationDocument, 'actions' | 'actions_on_resolve'> | null): AutomationDocument {
  const restore = (list: 'actions' | 'actions_on_resolve') =>
    doc[list].map((a, i): Action => {
      if (signingOf(a) !== SECRET_MASK) return a;
      const before = current?.[list][i];
      const stored = before ? signingOf(before) : undefined;
      if (before && before.type === a.type && stored && stored !== SECRET_MASK) return withSigning(a, stored);
      const path = a.type === 'call-webhook' ? `${list}[${i}].secret` : `${list}[${i}].destination.secret`;
      throw new ValidationError(`${path} is the mask "${SECRET_MASK}" but no secret is stored there; send the secret itself`, [
        { path, message: 'send the whsec_ secret itself' },
      ]);
    });
  return { ...doc, actions: restore('actions'), actions_on_resolve: restore('actions_on_resolve') };
}
