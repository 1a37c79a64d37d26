import { ReflexError } from '../../core/errors.ts';
import { fillSecrets, markedSecrets, MASK, maskMarkers } from '../../core/secret-refs.ts';
import type { DeliveryAttemptJob } from '../../schemas/jobs.ts';

/**
 * What filling needs from the modules that own automations and secrets (services/modules.ts wires them):
 * the automation's name (null when it is gone), and the values of the named secrets as that automation
 * may read them (throws `secret_access_denied` or `secrets_not_configured` when it may not).
 */
export interface SecretSource {
  automationName(id: string): Promise<string | null>;
  resolve(names: string[], automation: { id: string; name: string | null }): Promise<Map<string, string>>;
}

/**
 * Fills the secret markers of a delivery in at send time, for the automation that made it (its grants
 * must name the automation's id or name). The filled job is sent and dropped; the job in the queue and
 * the delivery log keep the markers. A refusal (not granted, missing, no key) is a permanent failure of
 * the attempt with the reason; an outage is thrown (the job is retried).
 */
export type Filled = { job: DeliveryAttemptJob; values: string[] } | { error: string };

export class SecretFiller {
  constructor(private readonly source: SecretSource) {}

  async fill(d: DeliveryAttemptJob): Promise<Filled> {
    // The job contract lets a URL with markers through unparsed; one whose markers are not ours (text
    // from an event) is checked here.
    const unfilled = (): Filled => (URL.canParse(d.url) ? { job: d, values: [] } : { error: `the URL ${JSON.stringify(maskMarkers(d.url).slice(0, 200))} is not a URL` });
    if (!d.secret_refs) return unfilled();
    const { nonce, body_encoding } = d.secret_refs;
    const texts = [d.url, d.body, d.secret ?? '', ...Object.values(d.headers)];
    const names = [...new Set(texts.flatMap((t) => markedSecrets(t, nonce)))];
    if (names.length === 0) return unfilled();
    if (!d.automation_id) return { error: 'a delivery that uses secrets must come from an automation' };
    const name = await this.source.automationName(d.automation_id);
    let values: Map<string, string>;
    try {
      values = await this.source.resolve(names, { id: d.automation_id, name });
    } catch (err) {
      if (err instanceof ReflexError && (err.code === 'secret_access_denied' || err.code === 'secrets_not_configured')) return { error: err.message };
      throw err;
    }
    const json = new Map([...values].map(([k, v]) => [k, JSON.stringify(v).slice(1, -1)]));
    const job: DeliveryAttemptJob = {
      ...d,
      url: fillSecrets(d.url, nonce, values).trim(),
      headers: Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, fillSecrets(v, nonce, values)])),
      body: fillSecrets(d.body, nonce, body_encoding === 'json' ? json : values),
      secret: d.secret === undefined ? undefined : fillSecrets(d.secret, nonce, values),
    };
    if (!URL.canParse(job.url) || !/^https?:$/.test(new URL(job.url).protocol)) {
      return { error: `the URL, with its secrets (${names.join(', ')}) filled in, is not an http(s) URL` };
    }
    if (Object.values(job.headers).some((v) => /[\r\n]/.test(v))) return { error: 'a header, with its secrets filled in, holds a line break' };
    return { job, values: [...values.values(), ...json.values()] };
  }
}

/** Replaces every occurrence of a secret value (a receiver echoing the request, an error naming the URL) with the mask. */
export function scrub(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) if (v.length >= 4) out = out.split(v).join(MASK);
  return out;
}
