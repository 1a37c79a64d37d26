import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

import type { Verification } from '../../schemas/webhook.ts';

/** How an incoming endpoint checks who sent a request: the closed set lives with the wire schema. */
export { Verification, VERIFICATIONS } from '../../schemas/webhook.ts';

/** Why a secret cannot be used with a scheme, or null when it can. Checked at creation, not at request time. */
export function secretProblem(verification: Verification, secret: string | null): string | null {
  switch (verification) {
    case 'none':
      return null;
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

/**
 * Checks the request's signature over its exact raw bytes. Returns the reason it failed, or null when the
 * sender is verified. Both schemes compare in constant time (standardwebhooks does so internally).
 */
export function verifyRequest(
  verification: Verification,
  secret: string | null,
  rawBody: Buffer,
  headers: Record<string, string>,
): string | null {
  switch (verification) {
    case 'none':
      return null;
    case 'standard-webhooks': {
      if (!secret) return 'endpoint has no secret';
      try {
        new Webhook(secret).verify(rawBody.toString('utf8'), headers);
        return null;
      } catch (err) {
        return `standard webhooks signature: ${(err as Error).message}`;
      }
    }
    case 'github': {
      if (!secret) return 'endpoint has no secret';
      const given = headers['x-hub-signature-256'];
      if (!given) return 'missing x-hub-signature-256 header';
      const expected = `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
      const a = Buffer.from(given);
      const b = Buffer.from(expected);
      return a.length === b.length && timingSafeEqual(a, b) ? null : 'x-hub-signature-256 does not match the body';
    }
  }
}
