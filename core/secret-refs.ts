import { randomBytes } from 'node:crypto';

/**
 * Secrets referenced by an automation action travel as markers, never as values: the automations
 * service renders `{{ secrets.NAME }}` (or a `{"secret": "NAME"}` reference) into
 * `[[reflex-secret:NAME:<nonce>]]`, and only the webhook service, at send time, replaces the markers of
 * the job's own nonce with the values. Jobs, firings, events, dry runs and the delivery log so hold the
 * marker. The nonce is random per delivery: text an event sender slips into a payload cannot name a
 * secret, because it cannot guess the nonce.
 */

export { SECRET_NAME_PATTERN, SECRET_NAME_RULE } from '../schemas/secret.ts';

/** What a masked secret reads as in API answers and dry runs. */
export const MASK = '********';

export function newSecretNonce(): string {
  return randomBytes(16).toString('hex');
}

export function secretMarker(name: string, nonce: string): string {
  return `[[reflex-secret:${name}:${nonce}]]`;
}

const MARKERS = /\[\[reflex-secret:([A-Za-z][A-Za-z0-9_-]{0,99}):([0-9a-f]{32})\]\]/g;

/** Names of the secrets `text` references with this nonce (others are left alone as plain text). */
export function markedSecrets(text: string, nonce: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(MARKERS)) if (m[2] === nonce) names.add(m[1]);
  return [...names];
}

/** Replaces the markers of this nonce with the values. */
export function fillSecrets(text: string, nonce: string, values: ReadonlyMap<string, string>): string {
  return text.replace(MARKERS, (whole, name: string, n: string) => (n === nonce && values.has(name) ? values.get(name)! : whole));
}

/** Shows every marker as `{{ secrets.NAME }}`-free text: `********(secret NAME)`, for views and dry runs. */
export function maskMarkers(text: string): string {
  return text.replace(MARKERS, (_w, name: string) => `${MASK}(secret ${name})`);
}

export function hasMarkers(text: string): boolean {
  MARKERS.lastIndex = 0;
  return /\[\[reflex-secret:/.test(text);
}
