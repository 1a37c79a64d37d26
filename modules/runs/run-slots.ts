import type { Redis } from 'ioredis';
import type { Names } from '../../core/names.ts';
import type { Pool } from '../../infra/db.ts';
import { leaseHandle, tryAcquire } from './concurrency-limits.ts';
import { deploymentRunControl } from './deployments.ts';
import { decideKeySlot, keySlotLease } from './run-keys.ts';
import type { Deployment } from '../../schemas/deployment.ts';
import { workPoolLimit } from './work-pools.ts';

/**
 * Deployment and work-pool concurrency limits, for the worker: before running a flow run the worker calls
 * `acquire`; when it answers `acquired: false` the worker puts the job back (delayed) without touching the
 * run's state. While the run executes, the slot's lease renews itself; the worker releases it when the
 * run ends. A worker killed mid-run stops renewing, so its slot frees itself after `leaseSeconds`.
 * Limits are read from Postgres and cached for a second; null means unlimited.
 */

export interface RunSlot {
  release(): Promise<void>;
}

/**
 * `collision` (issue 15, concurrency keys): `cancel-self` — the run must be cancelled (cancel-new, or a
 * newer run of its key won); `cancel-holders` — the runs in flight of its key are to be cancelled while
 * this one waits (cancel-in-progress).
 */
export type RunSlotResult =
  | { acquired: true; slot: RunSlot; burst?: boolean }
  | { acquired: false; reason: string; collision?: { action: 'cancel-self' } | { action: 'cancel-holders'; runs: string[] } };

/** What the slot check reads of a run; the key fields are absent for runs made before migration 0550. */
export interface SlotRun {
  id?: string;
  created?: string;
  deployment_id: string | null;
  work_pool: string | null;
  concurrency_key?: string | null;
}

const CACHE_MS = 1000;

type Cached<V> = { value: Promise<V>; at: number };

/**
 * A value cached for CACHE_MS from when its load started, the load's promise included (a failed load is
 * forgotten at once, so the next caller tries again).
 */
function cachedFor<V>(cache: Map<string, Cached<V>>, key: string, load: () => Promise<V>): Promise<V> {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
  const p = load();
  cache.set(key, { value: p, at: Date.now() });
  p.catch(() => {
    if (cache.get(key)?.value === p) cache.delete(key);
  });
  return p;
}

export class RunSlots {
  // Promises, so the jobs that start together while the entry is being (re)loaded share one query.
  private readonly cache = new Map<string, Cached<number | null>>();
  private readonly controls = new Map<string, Cached<{ limit: number | null; concurrency: Deployment['concurrency'] }>>();

  constructor(
    private readonly pg: Pool,
    private readonly redis: Redis,
    private readonly names: Names,
  ) {}

  private cachedLimit(key: string, load: () => Promise<number | null>): Promise<number | null> {
    return cachedFor(this.cache, key, load);
  }

  private control(id: string): Promise<{ limit: number | null; concurrency: Deployment['concurrency'] }> {
    return cachedFor(this.controls, id, () => deploymentRunControl(this.pg, id));
  }

  /**
   * Takes one slot of the run's deployment limit and one of its work pool's limit, or neither. A run with a
   * concurrency key takes its key's slot and the deployment-wide slot together (run-keys.ts) first.
   */
  async acquire(run: SlotRun, options: { leaseSeconds?: number; waiterTtlMs?: number } = {}): Promise<RunSlotResult> {
    const leaseMs = Math.round((options.leaseSeconds ?? 30) * 1000);
    const held: Array<{ release(): Promise<void> }> = [];
    const targets: Array<{ what: string; key: string; limit: number | null }> = [];
    let burst = false;
    if (run.deployment_id) {
      const id = run.deployment_id;
      const control = await this.control(id);
      const c = control.concurrency;
      if (c && run.id && run.concurrency_key != null) {
        const request = { deploymentId: id, runId: run.id, key: run.concurrency_key, leaseMs };
        const d = await decideKeySlot(this.redis, this.names, {
          ...request,
          order: run.created ? Date.parse(run.created) : Date.now(),
          limit: c.limit,
          burst: c.burst,
          cap: control.limit,
          collision: c.collision,
          waiterTtlMs: options.waiterTtlMs ?? 5000,
        });
        if (d.outcome === 'wait') return { acquired: false, reason: d.reason };
        if (d.outcome === 'cancel-self') return { acquired: false, reason: d.reason, collision: { action: 'cancel-self' } };
        if (d.outcome === 'cancel-holders') return { acquired: false, reason: d.reason, collision: { action: 'cancel-holders', runs: d.holders } };
        burst = d.burst;
        held.push(keySlotLease(this.redis, this.names, request));
      } else {
        targets.push({ what: `deployment ${id}`, key: this.names.keys.deploymentSlots(id), limit: control.limit });
      }
    }
    if (run.work_pool) {
      const name = run.work_pool;
      const limit = await this.cachedLimit(`p:${name}`, () => workPoolLimit(this.pg, name));
      targets.push({ what: `work pool "${name}"`, key: this.names.keys.workPoolSlots(name), limit });
    }
    for (const t of targets) {
      if (t.limit === null) continue;
      const r = await tryAcquire(this.redis, this.names, t.key, t.key, { occupy: 1, leaseMs, limit: t.limit });
      if (r.outcome !== 'acquired') {
        await Promise.all(held.map((l) => l.release()));
        return { acquired: false, reason: `${t.what} is at its concurrency limit (${t.limit})` };
      }
      held.push(leaseHandle(this.redis, t.key, t.key, r.leaseId, 1, leaseMs, true));
    }
    return {
      acquired: true,
      burst,
      slot: {
        async release() {
          await Promise.all(held.map((l) => l.release()));
        },
      },
    };
  }
}
