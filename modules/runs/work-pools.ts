import { coalesced } from '../../infra/coalesce.ts';
import type { Pool, PoolClient } from '../../infra/db.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { Runtime } from '../../infra/runtime.ts';
import type { WorkPool } from '../../schemas/deployment.ts';
import { workPoolQueue } from './run-queues.ts';
import { iso } from './rows.ts';

/** Work pools: a row each (limit, paused) and a BullMQ queue each (names.queues.workPool). */

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

export async function listWorkPools(db: Db): Promise<WorkPool[]> {
  const res = await db.query('SELECT * FROM work_pools ORDER BY name');
  return res.rows.map(fromRow);
}

export async function getWorkPool(db: Db, name: string): Promise<WorkPool | null> {
  const res = await db.query('SELECT * FROM work_pools WHERE name = $1', [name]);
  return res.rows[0] ? fromRow(res.rows[0]) : null;
}

const readers = new WeakMap<Runtime, (name: string) => Promise<WorkPool | null>>();

/** getWorkPool for hot paths (every run created checks its pool): concurrent reads share one query. */
export function readWorkPool(rt: Runtime, name: string): Promise<WorkPool | null> {
  let read = readers.get(rt);
  if (!read) {
    read = coalesced(async (names: readonly string[]) => {
      const res = await rt.pg.query('SELECT * FROM work_pools WHERE name = ANY($1::text[])', [names]);
      return new Map(res.rows.map((r) => [r.name as string, fromRow(r)]));
    });
    readers.set(rt, read);
  }
  return read(name);
}

export async function requireWorkPool(db: Db, name: string): Promise<WorkPool> {
  const pool = await getWorkPool(db, name);
  if (!pool) throw new NotFoundError('work pool', name);
  return pool;
}

export async function createWorkPool(
  rt: Runtime,
  input: { name: string; description: string | null; concurrency_limit: number | null; paused: boolean },
): Promise<WorkPool> {
  const res = await rt.pg.query(
    `INSERT INTO work_pools (name, description, concurrency_limit, paused) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO NOTHING RETURNING *`,
    [input.name, input.description, input.concurrency_limit, input.paused],
  );
  if (!res.rows[0]) throw new ConflictError(`work pool "${input.name}" already exists`);
  if (input.paused) await workPoolQueue(rt, input.name).pause();
  return fromRow(res.rows[0]);
}

export async function updateWorkPool(rt: Runtime, name: string, patch: { description?: string | null; concurrency_limit?: number | null }): Promise<WorkPool> {
  const res = await rt.pg.query(
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
export async function setWorkPoolPaused(rt: Runtime, name: string, paused: boolean): Promise<WorkPool> {
  const res = await rt.pg.query('UPDATE work_pools SET paused = $2, updated = now() WHERE name = $1 RETURNING *', [name, paused]);
  if (!res.rows[0]) throw new NotFoundError('work pool', name);
  const q = workPoolQueue(rt, name);
  if (paused) await q.pause();
  else await q.resume();
  return fromRow(res.rows[0]);
}
