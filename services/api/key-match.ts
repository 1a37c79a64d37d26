import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares in constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function keyMatches(given: string | undefined, key: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(key).digest();
  return timingSafeEqual(a, b);
}
