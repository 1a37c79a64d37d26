import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ReflexError, ValidationError } from '../../core/errors.ts';
import type { Names } from '../../core/names.ts';
import type { SlotHolder } from '../../schemas/dashboard.ts';

/**
 * Global concurrency limits by name, held in Redis as leased slots: a sorted set of lease ids scored by
 * their expiry. Acquiring is one Lua script (count the unexpired leases, add ours if under the limit), so
 * any number of processes share a limit safely; a holder that dies stops renewing and its slot frees
 * itself when the lease expires.
 */

/** Thrown when no slot frees up within `timeoutMs`. */
export class ConcurrencySlotTimeoutError extends ReflexError {
  constructor(name: string, timeoutMs: number) {
    super('concurrency_timeout', `no slot of concurrency limit "${name}" became free within ${timeoutMs} ms`);
  }
}

export interface AcquireOptions {
  /** Slots this holder takes (default 1). */
  occupy?: number;
  /** A lease not renewed within this many seconds expires and frees its slots (default 30). */
  leaseSeconds?: number;
  /** Give up after this long (default: wait until a slot is free). */
  timeoutMs?: number;
  /** Renew the lease in the background until released (default true). */
  autoRenew?: boolean;
  signal?: AbortSignal;
}

export interface Lease {
  readonly id: string;
  readonly name: string;
  /** False when the name has no limit configured: nothing was held and release is a no-op. */
  readonly limited: boolean;
  /** Extends the lease; false when it had already expired (its slots may have been given away). */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

// KEYS[1] holders zset, KEYS[2] limits hash. ARGV: limit name, lease id, occupy, lease ms, explicit limit ('' = from hash).
// Returns -1 when the name has no limit, 0 when full, else the lease's expiry (ms).
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = ARGV[5]
if limit == '' then limit = redis.call('HGET', KEYS[2], ARGV[1]) end
if not limit then return -1 end
limit = tonumber(limit)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local occupy = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) + occupy > limit then return 0 end
local expiry = now + tonumber(ARGV[4])
for i = 1, occupy do redis.call('ZADD', KEYS[1], expiry, ARGV[2] .. '#' .. i) end
return expiry`;

// KEYS[1] holders. ARGV: lease id, occupy, lease ms. Returns how many of the lease's slots were still held.
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = 0
for i = 1, tonumber(ARGV[2]) do
  local member = ARGV[1] .. '#' .. i
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), member)
    held = held + 1
  end
end
return held`;

const concurrencyKeys = {
  limits: (n: Names) => n.keys.concurrencyLimits,
  holders: (n: Names, name: string) => n.keys.concurrencyHolders(name),
};

/** Lower-level acquire used by named limits and by run slots; `limit` given explicitly or read from the hash. */
export async function tryAcquire(
  redis: Redis,
  n: Names,
  holdersKey: string,
  name: string,
  options: { occupy: number; leaseMs: number; limit?: number },
): Promise<{ outcome: 'unlimited' | 'full' } | { outcome: 'acquired'; leaseId: string }> {
  const leaseId = randomUUID();
  const res = Number(
    await redis.eval(ACQUIRE, 2, holdersKey, concurrencyKeys.limits(n), name, leaseId, String(options.occupy), String(options.leaseMs), options.limit === undefined ? '' : String(options.limit)),
  );
  if (res === -1) return { outcome: 'unlimited' };
  if (res === 0) return { outcome: 'full' };
  return { outcome: 'acquired', leaseId };
}

/** Builds the Lease handle for slots already held (auto-renewal included). */
export function leaseHandle(redis: Redis, holdersKey: string, name: string, leaseId: string, occupy: number, leaseMs: number, autoRenew: boolean): Lease {
  let released = false;
  const members = Array.from({ length: occupy }, (_, i) => `${leaseId}#${i + 1}`);
  const renew = async () => !released && Number(await redis.eval(RENEW, 1, holdersKey, leaseId, String(occupy), String(leaseMs))) === occupy;
  const timer = autoRenew ? setInterval(() => void renew().catch(() => {}), Math.max(100, Math.floor(leaseMs / 3))) : undefined;
  timer?.unref();
  return {
    id: leaseId,
    name,
    limited: true,
    renew,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await redis.zrem(holdersKey, ...members);
    },
  };
}

/**
 * Takes `occupy` slots of the named limit, waiting (polling with backoff) until they are free. A name with
 * no limit configured is unlimited: the lease returned holds nothing.
 */
export async function acquireSlot(redis: Redis, n: Names, name: string, options: AcquireOptions = {}): Promise<Lease> {
  const occupy = options.occupy ?? 1;
  const leaseMs = Math.round((options.leaseSeconds ?? 30) * 1000);
  if (!Number.isInteger(occupy) || occupy < 1) throw new ValidationError(`occupy must be a positive integer, got ${occupy}`);
  const holdersKey = concurrencyKeys.holders(n, name);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let wait = 5;
  for (;;) {
    options.signal?.throwIfAborted();
    const r = await tryAcquire(redis, n, holdersKey, name, { occupy, leaseMs });
    if (r.outcome === 'unlimited') return unlimitedLease(name);
    if (r.outcome === 'acquired') return leaseHandle(redis, holdersKey, name, r.leaseId, occupy, leaseMs, options.autoRenew ?? true);
    const limit = await getConcurrencyLimit(redis, n, name);
    if (limit !== null && occupy > limit) throw new ValidationError(`cannot occupy ${occupy} slots of concurrency limit "${name}": its limit is ${limit}`);
    if (Date.now() >= deadline) throw new ConcurrencySlotTimeoutError(name, options.timeoutMs as number);
    await sleep(Math.min(wait, deadline - Date.now()), options.signal);
    wait = Math.min(wait * 2, 100) + Math.random() * 10;
  }
}

/** Frees the lease's slots (same as `lease.release()`). */
export function release(lease: Lease): Promise<void> {
  return lease.release();
}

function unlimitedLease(name: string): Lease {
  return { id: randomUUID(), name, limited: false, renew: async () => true, release: async () => {} };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, Math.max(0, ms));
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

export interface ConcurrencyLimitInfo {
  name: string;
  limit: number;
  /** Slots held by unexpired leases right now. */
  active_slots: number;
}

export async function setConcurrencyLimit(redis: Redis, n: Names, name: string, limit: number): Promise<ConcurrencyLimitInfo> {
  await redis.hset(concurrencyKeys.limits(n), name, String(limit));
  return (await getConcurrencyLimitInfo(redis, n, name)) as ConcurrencyLimitInfo;
}

export async function getConcurrencyLimit(redis: Redis, n: Names, name: string): Promise<number | null> {
  const v = await redis.hget(concurrencyKeys.limits(n), name);
  return v === null ? null : Number(v);
}

export async function getConcurrencyLimitInfo(redis: Redis, n: Names, name: string): Promise<ConcurrencyLimitInfo | null> {
  const limit = await getConcurrencyLimit(redis, n, name);
  if (limit === null) return null;
  const active = await redis.zcount(concurrencyKeys.holders(n, name), Date.now(), '+inf');
  return { name, limit, active_slots: active };
}

export async function listConcurrencyLimits(redis: Redis, n: Names): Promise<ConcurrencyLimitInfo[]> {
  const all = await redis.hgetall(concurrencyKeys.limits(n));
  const names = Object.keys(all).sort();
  return Promise.all(names.map(async (name) => ({
    name,
    limit: Number(all[name]),
    active_slots: await redis.zcount(concurrencyKeys.holders(n, name), Date.now(), '+inf'),
  })));
}

/** At most this many slots are read for the holders of one limit: a limit is meant to be small, and the answer must stay bounded. */
const MAX_HOLDER_SLOTS = 1000;

/**
 * Who holds a limit's slots: its unexpired leases, one entry per lease (a lease of 3 slots is the members
 * `<lease id>#1..3`), soonest to expire first, with when each lapses unless its holder renews it.
 */
export async function concurrencyHolders(redis: Redis, n: Names, name: string, now = Date.now()): Promise<SlotHolder[]> {
  const flat = await redis.zrangebyscore(concurrencyKeys.holders(n, name), now, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_HOLDER_SLOTS);
  const byLease = new Map<string, SlotHolder>();
  for (let i = 0; i < flat.length; i += 2) {
    const member = flat[i];
    const lease = member.includes('#') ? member.slice(0, member.lastIndexOf('#')) : member;
    const held = byLease.get(lease);
    if (held) held.slots += 1;
    else byLease.set(lease, { lease_id: lease, slots: 1, expires: new Date(Number(flat[i + 1])).toISOString() });
  }
  return [...byLease.values()].sort((a, b) => a.expires.localeCompare(b.expires));
}

/** Removes the limit (the name becomes unlimited) and its leases. Returns false when there was none. */
export async function deleteConcurrencyLimit(redis: Redis, n: Names, name: string): Promise<boolean> {
  const removed = await redis.hdel(concurrencyKeys.limits(n), name);
  await redis.del(concurrencyKeys.holders(n, name));
  return removed > 0;
}
