import type { Firing } from './firing.ts';

/**
 * Where trigger state lives. The Redis store (redis-store.ts) is shared by replicas; the memory store
 * serves dry runs and backtests. Both implement optimistic concurrency: `commit` applies every write only
 * if no key changed version since `load`, so two replicas racing on one bucket cannot both fire.
 */

export interface Versioned {
  version: number;
  value: unknown;
}

export interface Commit {
  /**
   * `version` is the one read by load (0 = absent); value is the new state, or absent to only check it.
   * `ttlMs`: how long the state must outlive its last write at least (twice its window: a proactive
   * window of weeks must not expire before its deadline fires).
   */
  writes: { key: string; version: number; value?: unknown; ttlMs?: number }[];
  /** Proactive deadlines: `at` ms, or null to drop the timer of that bucket key. */
  timers: { key: string; at: number | null }[];
  /** Firings to remember until dispatched (a crash between commit and dispatch must not lose them). */
  pending: Firing[];
  /**
   * Stream sequences of the messages this commit evaluated. The commit fails if any was already applied
   * (a redelivered copy handled by another replica) and marks them all applied otherwise.
   */
  messages?: number[];
}

export interface StateStore {
  load(keys: string[]): Promise<Map<string, Versioned>>;
  /** The stream sequences among `seqs` whose messages were already applied by a commit. */
  applied(seqs: number[]): Promise<Set<number>>;
  /** Atomic: all or nothing; false when some version changed (the caller reloads and recomputes). */
  commit(commit: Commit): Promise<boolean>;
  /** Bucket keys whose deadline is at or before `now`. */
  dueTimers(now: number, limit: number): Promise<string[]>;
  /** Moves a timer later (e.g. while its automation is paused) without touching state. */
  postponeTimer(key: string, at: number): Promise<void>;
  /** Firings committed but not yet dispatched, older than `olderThanMs`. */
  stalePending(olderThanMs: number): Promise<Firing[]>;
  clearPending(keys: string[]): Promise<void>;
}

/** In-process store for dry runs: same contract, nothing shared. */
export class MemoryStateStore implements StateStore {
  private readonly data = new Map<string, Versioned>();
  private readonly timers = new Map<string, number>();
  private readonly pending = new Map<string, { firing: Firing; at: number }>();
  private readonly appliedSeqs = new Set<number>();

  async applied(seqs: number[]): Promise<Set<number>> {
    return new Set(seqs.filter((s) => this.appliedSeqs.has(s)));
  }

  async load(keys: string[]): Promise<Map<string, Versioned>> {
    const out = new Map<string, Versioned>();
    for (const k of keys) {
      const v = this.data.get(k);
      if (v) out.set(k, { version: v.version, value: structuredClone(v.value) });
    }
    return out;
  }

  async commit(c: Commit): Promise<boolean> {
    for (const w of c.writes) if ((this.data.get(w.key)?.version ?? 0) !== w.version) return false;
    if (c.messages?.some((m) => this.appliedSeqs.has(m))) return false;
    for (const m of c.messages ?? []) this.appliedSeqs.add(m);
    for (const w of c.writes) if (w.value !== undefined) this.data.set(w.key, { version: w.version + 1, value: structuredClone(w.value) });
    for (const t of c.timers) {
      if (t.at === null) this.timers.delete(t.key);
      else this.timers.set(t.key, t.at);
    }
    for (const f of c.pending) this.pending.set(f.key, { firing: f, at: Date.now() });
    return true;
  }

  async dueTimers(now: number, limit: number): Promise<string[]> {
    return [...this.timers.entries()]
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([k]) => k);
  }

  /** Earliest pending deadline (dry runs advance their clock to it). */
  nextTimer(): number | null {
    let min: number | null = null;
    for (const at of this.timers.values()) if (min === null || at < min) min = at;
    return min;
  }

  async postponeTimer(key: string, at: number): Promise<void> {
    this.timers.set(key, at);
  }

  async stalePending(olderThanMs: number): Promise<Firing[]> {
    const cutoff = Date.now() - olderThanMs;
    return [...this.pending.values()].filter((p) => p.at <= cutoff).map((p) => p.firing);
  }

  async clearPending(keys: string[]): Promise<void> {
    for (const k of keys) this.pending.delete(k);
  }

  /** Every bucket state, for dry-run reports. */
  entries(): [string, unknown][] {
    return [...this.data.entries()].map(([k, v]) => [k, v.value]);
  }
}
