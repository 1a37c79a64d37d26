import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

import type { Verification } from '../../schemas/webhook.ts';

/** How an incoming endpoint checks who sent a request: the closed set lives with the wire schema. */
export { Verification, VERIFICATIONS } from '../../schemas/webhook.ts';

/** A Standard Webhooks timestamp this far from now (either way) is refused, as the specification says. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

/** Why a secret cannot be used with a scheme, or null when it can. Checked at creation, not at request time. */
export function secretProblem(verification: Verification, secret: string | null): string | null {
  switch (verification) {
    case 'none':
      // A secret that nothing checks gives a false sense of safety.
      return secret ? 'a secret is given but verification is "none", so nothing would check it; choose standard-webhooks or github, or drop the secret' : null;
    case 'standard-webhooks':
      if (!secret) return 'a secret is required for standard-webhooks verification';
      try {
        new Webhook(secret);
        return null;
      } catch (err) {
        return `not a Standard Webhooks secret (write it whsec_<base64>): ${(err as Error).message}`;
      }
    case 'github':
      return secret ? null : 'a secret is required for github verification';
  }
}

export type Verdict = { ok: true; messageId: string | null } | { ok: false; reason: string };

/**
 * Checks the request's signature over its exact raw bytes (a decoded and re-encoded body would not be
 * what the sender signed), in constant time. A Standard Webhooks request also answers its `webhook-id`,
 * which the caller remembers for the tolerance window so a captured request cannot be replayed.
 */
export function verifyRequest(verification: Verification, secret: string | null, rawBody: Buffer, headers: Record<string, string>, now = Date.now()): Verdict {
  switch (verification) {
    case 'none':
      return { ok: true, messageId: null };
    case 'standard-webhooks':
      if (!secret) return { ok: false, reason: 'endpoint has no secret' };
      return verifyStandardWebhooks(secret, rawBody, headers, now);
    case 'github': {
      if (!secret) return { ok: false, reason: 'endpoint has no secret' };
      const given = headers['x-hub-signature-256'];
      if (!given) return { ok: false, reason: 'missing x-hub-signature-256 header' };
      const expected = `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
      return equal(given, expected) ? { ok: true, messageId: headers['x-github-delivery'] ?? null } : { ok: false, reason: 'x-hub-signature-256 does not match the body' };
    }
  }
}

function verifyStandardWebhooks(secret: string, rawBody: Buffer, headers: Record<string, string>, now: number): Verdict {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures) return { ok: false, reason: 'standard webhooks signature: missing webhook-id, webhook-timestamp or webhook-signature' };
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now / 1000 - ts) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, reason: `standard webhooks signature: timestamp outside ${SIGNATURE_TOLERANCE_SECONDS} s of now` };
  }
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(rawBody).digest('base64');
  for (const versioned of signatures.split(' ')) {
    const [version, signature] = versioned.split(',');
    if (version === 'v1' && signature !== undefined && equal(signature, expected)) return { ok: true, messageId: id };
  }
  return { ok: false, reason: 'standard webhooks signature: no signature matches the body' };
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
