import type { Redis } from 'ioredis';
import type { Names } from '../../core/names.ts';
import type { Pool } from '../../infra/db.ts';
import type { WorkPoolStatus } from '../../schemas/dashboard.ts';
import type { RunQueues } from './run-queues.ts';
import { readWorkers } from './worker-presence.ts';
import type { WorkPools } from './work-pools.ts';

export interface PoolStatusDeps {
  pg: Pool;
  redis: Redis;
  names: Names;
  workPools: WorkPools;
  queues: RunQueues;
}

/** Health of every work pool: the pool row, its queue's job counts, the workers seen and its runs in flight. */
export async function workPoolStatuses(deps: PoolStatusDeps): Promise<WorkPoolStatus[]> {
  const [pools, inFlight] = await Promise.all([
    deps.workPools.list(),
    deps.pg.query<{ work_pool: string; pending: string; running: string; late: string }>(
      `SELECT work_pool, count(*) FILTER (WHERE state_type = 'PENDING') AS pending,
              count(*) FILTER (WHERE state_type IN ('RUNNING', 'CANCELLING')) AS running,
              count(*) FILTER (WHERE state_name = 'Late') AS late
       FROM flow_runs WHERE state_type IN ('PENDING', 'RUNNING', 'CANCELLING') OR state_name = 'Late' GROUP BY work_pool`,
    ),
  ]);
  const runs = new Map(inFlight.rows.map((r) => [r.work_pool, { pending: Number(r.pending), running: Number(r.running), late: Number(r.late) }]));
  return Promise.all(
    pools.map(async (p) => {
      const [counts, workers] = await Promise.all([deps.queues.counts(p.name), readWorkers(deps.redis, deps.names, p.name)]);
      return {
        name: p.name,
        description: p.description,
        concurrency_limit: p.concurrency_limit,
        paused: p.paused,
        queue: { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0, prioritized: counts.prioritized ?? 0 },
        workers,
        runs: runs.get(p.name) ?? { pending: 0, running: 0, late: 0 },
      };
    }),
  );
}
