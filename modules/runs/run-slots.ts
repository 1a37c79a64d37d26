import type { Redis } from 'ioredis';
import type { Names } from '../../core/names.ts';
import type { Pool } from '../../infra/db.ts';
import { leaseHandle, tryAcquire, type Lease } from './concurrency-limits.ts';
import { deploymentLimit } from './deployments.ts';
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

export type RunSlotResult = { acquired: true; slot: RunSlot } | { acquired: false; reason: string };

const CACHE_MS = 1000;

export class RunSlots {
  private readonly cache = new Map<string, { limit: number | null; at: number }>();

  constructor(
    private readonly pg: Pool,
    private readonly redis: Redis,
    private readonly names: Names,
  ) {}

  private async cachedLimit(key: string, load: () => Promise<number | null>): Promise<number | null> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.limit;
    const limit = await load();
    this.cache.set(key, { limit, at: Date.now() });
    return limit;
  }

  /** Takes one slot of the run's deployment limit and one of its work pool's limit, or neither. */
  async acquire(run: { deployment_id: string | null; work_pool: string | null }, options: { leaseSeconds?: number } = {}): Promise<RunSlotResult> {
    const leaseMs = Math.round((options.leaseSeconds ?? 30) * 1000);
    const held: Lease[] = [];
    const targets: Array<{ what: string; key: string; limit: number | null }> = [];
    if (run.deployment_id) {
      const id = run.deployment_id;
      const limit = await this.cachedLimit(`d:${id}`, () => deploymentLimit(this.pg, id));
      targets.push({ what: `deployment ${id}`, key: this.names.keys.deploymentSlots(id), limit });
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
      slot: {
        async release() {
          await Promise.all(held.map((l) => l.release()));
        },
      },
    };
  }
}
