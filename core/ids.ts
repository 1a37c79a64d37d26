import { createHash } from 'node:crypto';

/**
 * A UUID (version-8 layout) derived from text, so the same input computed anywhere, by any replica, gets
 * the same id: the basis of idempotent firings, deliveries and the events about them.
 */
export function deterministicUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its 8-4-4-4-12 hex form (any version, either case): the one UUID check. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
