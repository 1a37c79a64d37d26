import { Webhook } from 'standardwebhooks';
import { SECRET_MASK } from '../../schemas/automation.ts';

/**
 * The request headers of one delivery attempt, built in this one place for both their readers: the
 * webhook service sends them, and the API shows them attempt by attempt (they are not stored: they follow
 * from the delivery and the attempt's start time). Content type, the configured headers, and for a signed
 * delivery the Standard Webhooks headers: the id stable across attempts, the timestamp and signature this
 * attempt's.
 */

export const WEBHOOK_USER_AGENT = 'Reflex-Webhooks/0.1';

export interface AttemptRequest {
  delivery_id: string;
  headers: Record<string, string>;
  format: string;
  body: string;
}

/**
 * How the signature header is filled: with the secret (what is sent), `masked` for a signed delivery
 * shown to a reader (an HMAC reveals nothing, but a reader has no use for it beyond knowing it was sent),
 * or null for an unsigned delivery.
 */
export type AttemptSigning = { secret: string } | 'masked' | null;

/** The headers of an attempt started at `at`; null when the secret is not one Standard Webhooks can sign with. */
export function attemptHeaders(d: AttemptRequest, at: Date, signing: AttemptSigning): Record<string, string> | null {
  const headers: Record<string, string> = {
    'user-agent': WEBHOOK_USER_AGENT,
    'content-type': d.format === 'cloudevent' ? 'application/cloudevents+json' : 'application/json',
  };
  for (const [k, v] of Object.entries(d.headers)) headers[k.toLowerCase()] = v;
  if (signing === null) return headers;
  headers['webhook-id'] = d.delivery_id;
  headers['webhook-timestamp'] = String(Math.floor(at.getTime() / 1000));
  if (signing === 'masked') {
    headers['webhook-signature'] = `v1,${SECRET_MASK}`;
    return headers;
  }
  try {
    headers['webhook-signature'] = new Webhook(signing.secret).sign(d.delivery_id, at, d.body);
  } catch {
    return null;
  }
  return headers;
}
