import type { Runtime } from '../../infra/runtime.ts';
import { leaseHandle, tryAcquire, type Lease } from './concurrency-limits.ts';

/**
 * Deployment and work-pool concurrency limits, for the worker: before running a flow run the worker calls
 * `acquireRunSlot`; when it answers `acquired: false` the worker puts the job back (e.g. delayed by a
 * second) without touching the run's state. While the run executes, the slot's lease renews itself; the
 * worker calls `slot.release()` when the run ends. A worker killed mid-run stops renewing, so its slot
 * frees itself after `leaseSeconds`.
 *
 * Limits are read from Postgres (deployments.concurrency_limit, work_pools.concurrency_limit) and cached
 * for a second; null means unlimited.
 */

export interface RunSlot {
  release(): Promise<void>;
}

export type RunSlotResult = { acquired: true; slot: RunSlot } | { acquired: false; reason: string };

export interface RunSlotOptions {
  leaseSeconds?: number;
}

const CACHE_MS = 1000;
const limitCache = new WeakMap<Runtime, Map<string, { limit: number | null; at: number }>>();

async function cachedLimit(rt: Runtime, key: string, load: () => Promise<number | null>): Promise<number | null> {
  let cache = limitCache.get(rt);
  if (!cache) limitCache.set(rt, (cache = new Map()));
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.limit;
  const limit = await load();
  cache.set(key, { limit, at: Date.now() });
  return limit;
}

export const runSlotKeys = {
  deployment: (rt: Runtime, id: string) => rt.names.redisKey('run-slots', 'deployment', id),
  workPool: (rt: Runtime, name: string) => rt.names.redisKey('run-slots', 'work-pool', name),
};

/** Takes one slot of the run's deployment limit and one of its work pool's limit, or neither. */
export async function acquireRunSlot(
  rt: Runtime,
  run: { deployment_id: string | null; work_pool: string | null },
  options: RunSlotOptions = {},
): Promise<RunSlotResult> {
  const leaseMs = Math.round((options.leaseSeconds ?? 30) * 1000);
  const held: Lease[] = [];
  const targets: Array<{ what: string; key: string; limit: number | null }> = [];
  if (run.deployment_id) {
    const id = run.deployment_id;
    const limit = await cachedLimit(rt, `d:${id}`, async () => {
      const r = await rt.pg.query<{ concurrency_limit: number | null }>('SELECT concurrency_limit FROM deployments WHERE id = $1', [id]);
      return r.rows[0]?.concurrency_limit ?? null;
    });
    targets.push({ what: `deployment ${id}`, key: runSlotKeys.deployment(rt, id), limit });
  }
  if (run.work_pool) {
    const name = run.work_pool;
    const limit = await cachedLimit(rt, `p:${name}`, async () => {
      const r = await rt.pg.query<{ concurrency_limit: number | null }>('SELECT concurrency_limit FROM work_pools WHERE name = $1', [name]);
      return r.rows[0]?.concurrency_limit ?? null;
    });
    targets.push({ what: `work pool "${name}"`, key: runSlotKeys.workPool(rt, name), limit });
  }
  for (const t of targets) {
    if (t.limit === null) continue;
    const r = await tryAcquire(rt.redis, rt.names, t.key, t.key, { occupy: 1, leaseMs, limit: t.limit });
    if (r.outcome !== 'acquired') {
      await Promise.all(held.map((l) => l.release()));
      return { acquired: false, reason: `${t.what} is at its concurrency limit (${t.limit})` };
    }
    held.push(leaseHandle(rt.redis, t.key, t.key, r.leaseId, 1, leaseMs, true));
  }
  return {
    acquired: true,
    slot: {
      async release() {
        await Promise.all(held.map((l) => l.release()));
      },
    },
  };
}
