import { ValidationError } from '../../core/errors.ts';
import { SECRET_MASK, type Action, type Automation, type AutomationDocument } from '../../schemas/automation.ts';

export { SECRET_MASK };

/**
 * Signing secrets of call-webhook actions are write-only: every read of an automation shows them as
 * SECRET_MASK, and an update that sends SECRET_MASK back keeps the stored secret of that action.
 */

const maskAction = (a: Action): Action => (a.type === 'call-webhook' && a.secret ? { ...a, secret: SECRET_MASK } : a);

export function maskSecrets<T extends Pick<Automation, 'actions' | 'actions_on_resolve'>>(automation: T): T {
  return { ...automation, actions: automation.actions.map(maskAction), actions_on_resolve: automation.actions_on_resolve.map(maskAction) };
}

/** Replaces each SECRET_MASK with the secret the current version holds at the same place; refuses a mask with nothing behind it. */
export function restoreSecrets(doc: AutomationDocument, current: Pick<AutomationDocument, 'actions' | 'actions_on_resolve'> | null): AutomationDocument {
  const restore = (list: 'actions' | 'actions_on_resolve') =>
    doc[list].map((a, i): Action => {
      if (a.type !== 'call-webhook' || a.secret !== SECRET_MASK) return a;
      const before = current?.[list][i];
      if (before?.type === 'call-webhook' && before.secret && before.secret !== SECRET_MASK) return { ...a, secret: before.secret };
      throw new ValidationError(`${list}[${i}].secret is the mask "${SECRET_MASK}" but no secret is stored there; send the secret itself`, [
        { path: `${list}[${i}].secret`, message: 'send the whsec_ secret itself' },
      ]);
    });
  return { ...doc, actions: restore('actions'), actions_on_resolve: restore('actions_on_resolve') };
}
