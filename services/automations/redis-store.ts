import type { Redis } from 'ioredis';
import type { Names } from '../../core/names.ts';
import type { Firing } from './firing.ts';
import type { Commit, StateStore, Versioned } from './store.ts';

/**
 * Trigger state in Redis, shared by every replica. Each state key is a hash {v: version, s: JSON}. A
 * commit is one Lua script: it checks every expected version first and only then writes all states,
 * timers (a sorted set of proactive deadlines) and pending firings, so it is all-or-nothing.
 */

const COMMIT_SCRIPT = `
local n = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
for i = 1, n do
  local cur = redis.call('HGET', KEYS[2 + i], 'v')
  if not cur then cur = '0' end
  if cur ~= ARGV[2 + (i - 1) * 2 + 1] then return 0 end
end
for i = 1, n do
  local k = KEYS[2 + i]
  local v = tonumber(ARGV[2 + (i - 1) * 2 + 1]) + 1
  redis.call('HSET', k, 'v', tostring(v), 's', ARGV[2 + (i - 1) * 2 + 2])
  redis.call('PEXPIRE', k, ttl)
end
local p = 3 + n * 2
local t = tonumber(ARGV[p])
for i = 1, t do
  local score = ARGV[p + (i - 1) * 2 + 1]
  local member = ARGV[p + (i - 1) * 2 + 2]
  if score == '' then redis.call('ZREM', KEYS[1], member) else redis.call('ZADD', KEYS[1], score, member) end
end
p = p + 1 + t * 2
local f = tonumber(ARGV[p])
for i = 1, f do
  redis.call('HSET', KEYS[2], ARGV[p + (i - 1) * 2 + 1], ARGV[p + (i - 1) * 2 + 2])
end
return 1
`;

type CommitCommand = (numKeys: number, ...args: (string | number)[]) => Promise<number>;

/** How long untouched trigger state is kept (a bucket not touched for a week is dead). */
const STATE_TTL_MS = 7 * 24 * 3600 * 1000;

export class RedisStateStore implements StateStore {
  private readonly timersKey: string;
  private readonly pendingKey: string;

  constructor(private readonly redis: Redis, private readonly names: Names) {
    this.timersKey = names.redisKey('automations', 'timers');
    this.pendingKey = names.redisKey('automations', 'pending');
    if (!(redis as unknown as { reflexAutomationCommit?: CommitCommand }).reflexAutomationCommit) {
      redis.defineCommand('reflexAutomationCommit', { lua: COMMIT_SCRIPT });
    }
  }

  private stateKey(key: string): string {
    return this.names.redisKey('automations', 'state', key);
  }

  async load(keys: string[]): Promise<Map<string, Versioned>> {
    const pipeline = this.redis.pipeline();
    for (const k of keys) pipeline.hmget(this.stateKey(k), 'v', 's');
    const results = (await pipeline.exec()) ?? [];
    const out = new Map<string, Versioned>();
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const [v, s] = value as [string | null, string | null];
      if (v !== null && s !== null) out.set(keys[i], { version: Number(v), value: JSON.parse(s) });
    });
    return out;
  }

  async commit(c: Commit): Promise<boolean> {
    const keys = [this.timersKey, this.pendingKey, ...c.writes.map((w) => this.stateKey(w.key))];
    const args: (string | number)[] = [c.writes.length, STATE_TTL_MS];
    for (const w of c.writes) args.push(String(w.version), JSON.stringify(w.value));
    args.push(c.timers.length);
    for (const t of c.timers) args.push(t.at === null ? '' : String(t.at), t.key);
    args.push(c.pending.length);
    const now = Date.now();
    for (const f of c.pending) args.push(f.key, JSON.stringify({ at: now, firing: f }));
    const run = (this.redis as unknown as { reflexAutomationCommit: CommitCommand }).reflexAutomationCommit.bind(this.redis);
    return (await run(keys.length, ...keys, ...args)) === 1;
  }

  async dueTimers(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.timersKey, '-inf', now, 'LIMIT', 0, limit);
  }

  async postponeTimer(key: string, at: number): Promise<void> {
    await this.redis.zadd(this.timersKey, 'XX', at, key);
  }

  async stalePending(olderThanMs: number): Promise<Firing[]> {
    const all = await this.redis.hgetall(this.pendingKey);
    const cutoff = Date.now() - olderThanMs;
    const out: Firing[] = [];
    for (const raw of Object.values(all)) {
      const entry = JSON.parse(raw) as { at: number; firing: Firing };
      if (entry.at <= cutoff) out.push(entry.firing);
    }
    return out;
  }

  async clearPending(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.hdel(this.pendingKey, ...keys);
  }

  /** Removes every timer and state key of an automation (on delete). */
  async forget(automationId: string): Promise<void> {
    const members = await this.redis.zrange(this.timersKey, 0, -1);
    const mine = members.filter((m) => m.split('|')[1] === automationId);
    if (mine.length > 0) await this.redis.zrem(this.timersKey, ...mine);
    let cursor = '0';
    const pattern = `${this.stateKey('')}*|${automationId}|*`;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.unlink(...keys);
    } while (cursor !== '0');
  }
}
