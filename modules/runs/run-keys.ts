import { sha256Hex } from '../../core/ids.ts';
import type { Redis } from 'ioredis';
import { ValidationError, type FieldIssue } from '../../core/errors.ts';
import { createSandboxedLiquid } from '../../core/liquid.ts';
import type { Names } from '../../core/names.ts';
import type { CollisionStrategy, Deployment, DeploymentConcurrency } from '../../schemas/deployment.ts';

/**
 * Concurrency keys of deployments (issue 15): a run's key is rendered once, when the run is created, from
 * the deployment's `concurrency.key` template; the worker then takes one of the key's `limit` slots before
 * starting it, in one Lua script that also takes a slot of the deployment-wide cap (`concurrency_limit`), so
 * any number of workers share both exactly. Runs of a key that find no slot wait in line by creation order;
 * `burst` lets a key go above its floor while the cap has room and no other key waits below its floor.
 * Collision strategies decide what a run does when its key is full (see CollisionStrategySchema).
 */

const liquid = createSandboxedLiquid();

/** A rendered key longer than this is refused (400): keys are meant to be ids, and they are stored per run. */
export const MAX_RENDERED_KEY = 512;

/** Problems of a deployment's run-control declarations that zod cannot see: the key template must parse; burst needs a cap. */
export function runControlProblems(d: Partial<Pick<Deployment, 'concurrency' | 'concurrency_limit'>>, prefix = ''): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const c = d.concurrency;
  if (!c) return issues;
  try {
    liquid.parse(c.key);
  } catch (err) {
    issues.push({ path: `${prefix}concurrency.key`, message: `the key template does not parse: ${(err as Error).message.split('\n')[0]}` });
  }
  if (c.burst > 0 && (d.concurrency_limit ?? null) === null) {
    issues.push({ path: `${prefix}concurrency.burst`, message: 'a burst needs the deployment-wide concurrency_limit it borrows from' });
  }
  if (c.burst > 0 && d.concurrency_limit != null && c.limit > d.concurrency_limit) {
    issues.push({ path: `${prefix}concurrency.limit`, message: `a key's limit (${c.limit}) cannot exceed the deployment's concurrency_limit (${d.concurrency_limit})` });
  }
  return issues;
}

export function checkRunControl(d: Partial<Pick<Deployment, 'concurrency' | 'concurrency_limit'>>, prefix = ''): void {
  const issues = runControlProblems(d, prefix);
  if (issues.length) throw new ValidationError(`invalid deployment: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/** Renders a run's concurrency key. A render that fails or is too long is a 400 at `concurrency.key`. */
export async function renderRunKey(c: DeploymentConcurrency, scope: { parameters: Record<string, unknown>; tags: string[]; deployment: { id: string; name: string; flow: string } }): Promise<string> {
  let key: string;
  try {
    key = (await liquid.parseAndRender(c.key, scope)).trim();
  } catch (err) {
    throw new ValidationError(`the concurrency key could not be rendered: ${(err as Error).message.split('\n')[0]}`, [{ path: 'concurrency.key', message: (err as Error).message.split('\n')[0] }]);
  }
  if (key.length > MAX_RENDERED_KEY) {
    throw new ValidationError(`the concurrency key renders to ${key.length} characters (at most ${MAX_RENDERED_KEY})`, [{ path: 'concurrency.key', message: `renders to ${key.length} characters (at most ${MAX_RENDERED_KEY})` }]);
  }
  return key;
}

/** Redis keys hold a digest of the rendered key: bounded length, no separator characters from user text. */
export function runKeyHash(key: string): string {
  return sha256Hex(key).slice(0, 32);
}

/** What the worker should do with a run after asking for its key's slot. */
export type KeySlotDecision =
  | { outcome: 'acquired'; burst: boolean }
  | { outcome: 'wait'; reason: string }
  /** cancel-new: the key is full, the new run is cancelled. cancel-in-progress: a newer run of the key waits, this one lost. */
  | { outcome: 'cancel-self'; reason: string }
  /** cancel-in-progress: this (newest) run waits while these runs in flight are cancelled. */
  | { outcome: 'cancel-holders'; holders: string[]; reason: string };

// KEYS: 1 key holders, 2 key waiters, 3 waiter seen, 4 deployment-wide holders, 5 starved keys of the deployment.
// ARGV: 1 run id, 2 order score, 3 limit, 4 burst, 5 cap ('' none), 6 lease ms, 7 collision, 8 key hash, 9 now ('' Redis TIME), 10 waiter ttl ms.
// Answers {status, ...}: acquired (burst 0/1), wait (why), cancel-self (why), cancel-holders (ids...).
const KEY_ACQUIRE = `
local now
if ARGV[9] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[9])
end
local run = ARGV[1]
local leaseMs = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZREM', KEYS[3], m)
end
local cap = nil
if ARGV[5] ~= '' then cap = tonumber(ARGV[5]) end
if redis.call('ZSCORE', KEYS[1], run) then
  redis.call('ZADD', KEYS[1], now + leaseMs, run)
  if cap then redis.call('ZADD', KEYS[4], now + leaseMs, run) end
  return {'acquired', '0'}
end
local limit = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local collision = ARGV[7]
local held = redis.call('ZCARD', KEYS[1])
local total = redis.call('ZCARD', KEYS[4])
redis.call('ZADD', KEYS[2], 'NX', tonumber(ARGV[2]), run)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[10]), run)
local rank = redis.call('ZRANK', KEYS[2], run)
local waiting = redis.call('ZCARD', KEYS[2])
local function leave()
  redis.call('ZREM', KEYS[2], run)
  redis.call('ZREM', KEYS[3], run)
end
if collision == 'cancel-in-progress' and rank < waiting - 1 then
  leave()
  return {'cancel-self', 'a newer run of the same concurrency key is waiting: the newest wins'}
end
local capRoom = 1000000000
if cap then capRoom = cap - total end
local floorRoom = limit - held
local function take(isBurst)
  leave()
  redis.call('ZADD', KEYS[1], now + leaseMs, run)
  if cap then redis.call('ZADD', KEYS[4], now + leaseMs, run) end
  redis.call('ZREM', KEYS[5], ARGV[8])
  return {'acquired', isBurst}
end
if rank < math.min(floorRoom, capRoom) then return take('0') end
if rank < floorRoom then
  -- Below its floor but the cap is full: other keys stop bursting until this key gets its share.
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[10]), ARGV[8])
  return {'wait', 'the deployment-wide concurrency limit is full'}
end
if burst > 0 and cap and rank < math.min(limit + burst - held, capRoom) then
  local starved = redis.call('ZCARD', KEYS[5])
  if redis.call('ZSCORE', KEYS[5], ARGV[8]) then starved = starved - 1 end
  if starved == 0 then return take('1') end
end
if collision == 'cancel-new' and floorRoom <= 0 then
  leave()
  return {'cancel-self', 'its concurrency key already has ' .. held .. ' run(s) in flight (limit ' .. limit .. ')'}
end
if collision == 'cancel-in-progress' and floorRoom <= 0 then
  local holders = redis.call('ZRANGE', KEYS[1], 0, -1)
  table.sort(holders)
  local out = {'cancel-holders'}
  for i = 1, held - limit + 1 do out[#out + 1] = holders[i] end
  return out
end
if floorRoom <= 0 then return {'wait', 'its concurrency key is at its limit (' .. limit .. ')'} end
return {'wait', 'runs of the same concurrency key created earlier are waiting'}`;

// KEYS: 1 key holders, 2 deployment-wide holders. ARGV: run id, lease ms. Answers 1 when still held.
const KEY_RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[2]), ARGV[1])
return 1`;

export interface KeySlotRequest {
  deploymentId: string;
  runId: string;
  key: string;
  /** Creation time of the run (ms): the order of the line. */
  order: number;
  limit: number;
  burst: number;
  /** The deployment-wide cap (its concurrency_limit), or null. */
  cap: number | null;
  collision: CollisionStrategy;
  leaseMs: number;
  /** A waiter that does not ask again within this long leaves the line (a cancelled run never asks again). */
  waiterTtlMs: number;
  /** For tests: the clock (ms); Redis TIME otherwise. */
  now?: number;
}

function keysOf(n: Names, r: { deploymentId: string; key: string }): [string, string, string, string, string] {
  const h = runKeyHash(r.key);
  return [n.keys.runKeyHolders(r.deploymentId, h), n.keys.runKeyWaiters(r.deploymentId, h), n.keys.runKeyWaiterSeen(r.deploymentId, h), n.keys.deploymentSlots(r.deploymentId), n.keys.runKeyStarved(r.deploymentId)];
}

/** Asks for one slot of a run's concurrency key (and of the deployment-wide cap), atomically. */
export async function decideKeySlot(redis: Redis, n: Names, r: KeySlotRequest): Promise<KeySlotDecision> {
  const keys = keysOf(n, r);
  const res = (await redis.eval(
    KEY_ACQUIRE,
    keys.length,
    ...keys,
    r.runId,
    String(r.order),
    String(r.limit),
    String(r.burst),
    r.cap === null ? '' : String(r.cap),
    String(r.leaseMs),
    r.collision,
    runKeyHash(r.key),
    r.now === undefined ? '' : String(r.now),
    String(r.waiterTtlMs),
  )) as string[];
  switch (res[0]) {
    case 'acquired':
      return { outcome: 'acquired', burst: res[1] === '1' };
    case 'cancel-self':
      return { outcome: 'cancel-self', reason: res[1] };
    case 'cancel-holders':
      return { outcome: 'cancel-holders', holders: res.slice(1), reason: 'a newer run of the same concurrency key wins (cancel-in-progress)' };
    default:
      return { outcome: 'wait', reason: res[1] ?? 'no slot' };
  }
}

/** A held key slot: renews itself until released. */
export interface KeySlotLease {
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

export function keySlotLease(redis: Redis, n: Names, r: { deploymentId: string; key: string; runId: string; leaseMs: number }, autoRenew = true): KeySlotLease {
  const [holders, , , wide] = keysOf(n, r);
  let released = false;
  const renew = async () => !released && Number(await redis.eval(KEY_RENEW, 2, holders, wide, r.runId, String(r.leaseMs))) === 1;
  const timer = autoRenew ? setInterval(() => void renew().catch(() => {}), Math.max(100, Math.floor(r.leaseMs / 3))) : undefined;
  timer?.unref();
  return {
    renew,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await redis.multi().zrem(holders, r.runId).zrem(wide, r.runId).exec();
    },
  };
}

/** Runs of a key holding a slot now (for the API and tests). */
export async function keyHolders(redis: Redis, n: Names, deploymentId: string, key: string, now = Date.now()): Promise<string[]> {
  const [holders] = keysOf(n, { deploymentId, key });
  return redis.zrangebyscore(holders, now, '+inf');
}
