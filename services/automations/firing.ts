import { createHash } from 'node:crypto';
import type { ReflexEvent } from '../../schemas/event.ts';

/** One firing of an automation's trigger (triggered or resolved), before and after it is recorded. */
export interface Firing {
  /** Deterministic UUID derived from `key`. */
  id: string;
  /** Deterministic firing key (hashed): automation, trigger hash, path, bucket, window/sequence. */
  key: string;
  automation_id: string;
  state: 'triggered' | 'resolved';
  trigger_path: string;
  bucket_key: string;
  triggering_labels: Record<string, string>;
  triggering_event: ReflexEvent | null;
  count: number;
  window_start: string | null;
  window_end: string | null;
  fired_at: string;
}

export { deterministicUuid } from '../../core/ids.ts';

export function firingKey(parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * BullMQ job id (and idempotency key of forwarded jobs) of one action of a firing. A triggered firing runs
 * `actions`, a resolved one `actions_on_resolve`; the firing id already differs between the two.
 */
export function actionJobId(firingId: string, index: number): string {
  return `${firingId}-${index}`;
}
