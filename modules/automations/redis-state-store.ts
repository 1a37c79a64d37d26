import type { Redis } from 'ioredis';
import { stateKeys, type Names } from '../../core/names.ts';
import type { Firing } from './engine/firing.ts';
import type { Commit, StateStore, Versioned } from './engine/state-store.ts';

/**
 * Trigger state in Redis, shared by every replica. Each state key is a hash {v: version, s: JSON}. A
 * commit is one Lua script: it checks every expected version first and only then writes all states,
 * timers (a sorted set of proactive deadlines) and pending firings, so it is all-or-nothing.
 */

const COMMIT_SCRIPT = `
local n = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local nb = tonumber(ARGV[3])
local m = tonumber(ARGV[4])
local mbase = 4
for i = 1, m do
  local k = KEYS[2 + n + tonumber(ARGV[mbase + (i - 1) * 2 + 1])]
  if redis.call('GETBIT', k, ARGV[mbase + (i - 1) * 2 + 2]) == 1 then return 0 end
end
local base = mbase + m * 2
for i = 1, n do
  local cur = redis.call('HGET', KEYS[2 + i], 'v')
  if not cur then cur = '0' end
  if cur ~= ARGV[base + (i - 1) * 3 + 1] then return 0 end
end
for i = 1, m do
  redis.call('SETBIT', KEYS[2 + n + tonumber(ARGV[mbase + (i - 1) * 2 + 1])], ARGV[mbase + (i - 1) * 2 + 2], 1)
end
for i = 1, nb do
  redis.call('PEXPIRE', KEYS[2 + n + i], ttl)
end
for i = 1, n do
  local value = ARGV[base + (i - 1) * 3 + 2]
  if value ~= '' then
    local k = KEYS[2 + i]
    local v = tonumber(ARGV[base + (i - 1) * 3 + 1]) + 1
    redis.call('HSET', k, 'v', tostring(v), 's', value)
    redis.call('PEXPIRE', k, tonumber(ARGV[base + (i - 1) * 3 + 3]))
  end
end
local p = base + 1 + n * 3
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

/** How long untouched state is kept at least (a bucket not touched for a week is dead); see stateTtlMs. */
const STATE_TTL_MS = 7 * 24 * 3600 * 1000;
/** Applied-message bitmaps are split in blocks of 2^23 stream sequences (1 MiB each). */
const BLOCK_BITS = 23;
/** Most trigger states a replica keeps cached. */
const CACHE_ENTRIES = 200_000;

export class RedisStateStore implements StateStore {
  private readonly timersKey: string;
  private readonly pendingKey: string;

  constructor(private readonly redis: Redis, private readonly names: Names) {
    this.timersKey = names.keys.automationTimers;
    this.pendingKey = names.keys.automationPending;
    if (!(redis as unknown as { reflexAutomationCommit?: CommitCommand }).reflexAutomationCommit) {
      redis.defineCommand('reflexAutomationCommit', { lua: COMMIT_SCRIPT });
    }
  }

  private stateKey(key: string): string {
    return this.names.keys.automationState(key);
  }

  private blockKey(block: number): string {
    return this.names.keys.automationApplied(block);
  }

  async applied(seqs: number[]): Promise<Set<number>> {
    const pipeline = this.redis.pipeline();
    for (const seq of seqs) pipeline.getbit(this.blockKey(Math.floor(seq / 2 ** BLOCK_BITS)), seq % 2 ** BLOCK_BITS);
    const results = (await pipeline.exec()) ?? [];
    const out = new Set<number>();
    results.forEach(([err, bit], i) => {
      if (err) throw err;
      if (bit === 1) out.add(seqs[i]);
    });
    return out;
  }

  /**
   * States this replica committed last, by key. A cached state may be stale (another replica wrote it):
   * the commit's version check then fails, the keys are dropped from here and the batch is recomputed
   * from Redis. With work mostly partitioned this saves a round trip and the JSON parsing per batch.
   */
  private readonly cache = new Map<string, Versioned>();

  private remember(key: string, v: Versioned): void {
    this.cache.delete(key);
    this.cache.set(key, v);
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
  }

  async load(keys: string[]): Promise<Map<string, Versioned>> {
    const out = new Map<string, Versioned>();
    const missing: string[] = [];
    for (const k of keys) {
      const hit = this.cache.get(k);
      if (hit) out.set(k, hit);
      else missing.push(k);
    }
    if (missing.length === 0) return out;
    const pipeline = this.redis.pipeline();
    for (const k of missing) pipeline.hmget(this.stateKey(k), 'v', 's');
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const [v, s] = value as [string | null, string | null];
      if (v !== null && s !== null) {
        const entry = { version: Number(v), value: JSON.parse(s) };
        out.set(missing[i], entry);
        this.remember(missing[i], entry);
      }
    });
    return out;
  }

  async commit(c: Commit): Promise<boolean> {
    const blocks: number[] = [];
    const marks: (string | number)[] = [];
    for (const seq of c.messages ?? []) {
      const block = Math.floor(seq / 2 ** BLOCK_BITS);
      let idx = blocks.indexOf(block);
      if (idx < 0) idx = blocks.push(block) - 1;
      marks.push(idx + 1, seq % 2 ** BLOCK_BITS);
    }
    const keys = [this.timersKey, this.pendingKey, ...c.writes.map((w) => this.stateKey(w.key)), ...blocks.map((b) => this.blockKey(b))];
    const args: (string | number)[] = [c.writes.length, STATE_TTL_MS, blocks.length, marks.length / 2, ...marks];
    for (const w of c.writes) args.push(String(w.version), w.value === undefined ? '' : JSON.stringify(w.value), Math.max(STATE_TTL_MS, w.ttlMs ?? 0));
    args.push(c.timers.length);
    for (const t of c.timers) args.push(t.at === null ? '' : String(t.at), t.key);
    args.push(c.pending.length);
    const now = Date.now();
    for (const f of c.pending) args.push(f.key, JSON.stringify({ at: now, firing: f }));
    const run = (this.redis as unknown as { reflexAutomationCommit: CommitCommand }).reflexAutomationCommit.bind(this.redis);
    let ok = false;
    try {
      ok = (await run(keys.length, ...keys, ...args)) === 1;
    } finally {
      for (const w of c.writes) {
        if (!ok) this.cache.delete(w.key);
        else if (w.value !== undefined) this.remember(w.key, { version: w.version + 1, value: w.value });
      }
    }
    return ok;
  }

  async dueTimers(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.timersKey, '-inf', now, 'LIMIT', 0, limit);
  }

  /** The earliest deadline of any key (ms), or null: the service sets a precise wake-up for it. */
  async nextTimer(): Promise<number | null> {
    const [, score] = await this.redis.zrange(this.timersKey, 0, 0, 'WITHSCORES');
    return score === undefined ? null : Number(score);
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
    const mine = members.filter((m) => stateKeys.automationOf(m) === automationId);
    if (mine.length > 0) await this.redis.zrem(this.timersKey, ...mine);
    let cursor = '0';
    const pattern = stateKeys.scanPattern(this.names.keys.automationStatePrefix, automationId);
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.unlink(...keys);
    } while (cursor !== '0');
  }
}
