import type { Pool, PoolClient } from '../../infra/db.ts';
import { coalesced } from '../../infra/coalesce.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { WorkPool } from '../../schemas/deployment.ts';
import { iso } from './rows.ts';
import type { RunQueues } from './run-queues.ts';

/** Work pools: a row each (limit, paused) and a BullMQ queue each. Owns the `work_pools` table. */

type Db = Pool | PoolClient;

function fromRow(r: Record<string, unknown>): WorkPool {
  return {
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    concurrency_limit: (r.concurrency_limit as number | null) ?? null,
    paused: Boolean(r.paused),
    created: iso(r.created) as string,
    updated: iso(r.updated) as string,
  };
}

/** Creates the pool when it does not exist yet (deployments create theirs on first use). */
export async function ensureWorkPool(db: Db, name: string): Promise<void> {
  await db.query('INSERT INTO work_pools (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
}

/** The concurrency limit of a pool (null: none), for the worker's slot check. */
export async function workPoolLimit(db: Db, name: string): Promise<number | null> {
  const r = await db.query<{ concurrency_limit: number | null }>('SELECT concurrency_limit FROM work_pools WHERE name = $1', [name]);
  return r.rows[0]?.concurrency_limit ?? null;
}

export class WorkPools {
  /** getWorkPool for hot paths (every run created checks its pool): concurrent reads share one query. */
  readonly read: (name: string) => Promise<WorkPool | null>;

  constructor(
    private readonly pg: Pool,
    private readonly queues: RunQueues,
  ) {
    this.read = coalesced(async (names: readonly string[]) => {
      const res = await pg.query('SELECT * FROM work_pools WHERE name = ANY($1::text[])', [names]);
      return new Map(res.rows.map((r) => [r.name as string, fromRow(r)]));
    });
  }

  async list(): Promise<WorkPool[]> {
    const res = await this.pg.query('SELECT * FROM work_pools ORDER BY name');
    return res.rows.map(fromRow);
  }

  async get(name: string): Promise<WorkPool | null> {
    const res = await this.pg.query('SELECT * FROM work_pools WHERE name = $1', [name]);
    return res.rows[0] ? fromRow(res.rows[0]) : null;
  }

  async require(name: string): Promise<WorkPool> {
    const pool = await this.get(name);
    if (!pool) throw new NotFoundError('work pool', name);
    return pool;
  }

  ensure(name: string): Promise<void> {
    return ensureWorkPool(this.pg, name);
  }

  async create(input: { name: string; description: string | null; concurrency_limit: number | null; paused: boolean }): Promise<WorkPool> {
    const res = await this.pg.query(
      `INSERT INTO work_pools (name, description, concurrency_limit, paused) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO NOTHING RETURNING *`,
      [input.name, input.description, input.concurrency_limit, input.paused],
    );
    if (!res.rows[0]) throw new ConflictError(`work pool "${input.name}" already exists`);
    if (input.paused) await this.queues.queue(input.name).pause();
    return fromRow(res.rows[0]);
  }

  async update(name: string, patch: { description?: string | null; concurrency_limit?: number | null }): Promise<WorkPool> {
    const res = await this.pg.query(
      `UPDATE work_pools SET
         description = CASE WHEN $2 THEN $3 ELSE description END,
         concurrency_limit = CASE WHEN $4 THEN $5::int ELSE concurrency_limit END,
         updated = now()
       WHERE name = $1 RETURNING *`,
      [name, patch.description !== undefined, patch.description ?? null, patch.concurrency_limit !== undefined, patch.concurrency_limit ?? null],
    );
    if (!res.rows[0]) throw new NotFoundError('work pool', name);
    return fromRow(res.rows[0]);
  }

  /** Pausing stops the pool's workers taking jobs (BullMQ queue pause) and refuses manual runs. */
  async setPaused(name: string, paused: boolean): Promise<WorkPool> {
    const res = await this.pg.query('UPDATE work_pools SET paused = $2, updated = now() WHERE name = $1 RETURNING *', [name, paused]);
    if (!res.rows[0]) throw new NotFoundError('work pool', name);
    const q = this.queues.queue(name);
    if (paused) await q.pause();
    else await q.resume();
    return fromRow(res.rows[0]);
  }
}
