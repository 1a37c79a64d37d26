import { createHash } from 'node:crypto';
import type { QueryResult } from 'pg';
import type { Pool } from '../../infra/db.ts';

/**
 * The outbox table: state-change events written in the same transaction as their state (by the state
 * writer), published by the outbox relay in `seq` order.
 */

export interface OutboxRow {
  seq: string;
  id: string;
  /** The event's name. */
  name: string;
  /** The event as the JSON text Postgres holds (published without parsing and re-encoding). */
  json: string;
}

/** The advisory lock that lets one relay of a namespace publish at a time (keeping each run's events in order). */
export function outboxLockKey(pgSchema: string): number {
  return createHash('sha256').update(`reflex-outbox:${pgSchema}`).digest().readInt32BE(0);
}

/**
 * Takes up to `limit` rows (FOR UPDATE SKIP LOCKED, under the namespace's advisory lock), hands them to
 * `publish`, and deletes those it published, all in one transaction of two round trips. Answers how many
 * were published (0 when another relay holds the lock); rethrows the first publish failure after the
 * published rows are deleted.
 */
export async function relayOutbox(pg: Pool, lockKey: number, limit: number, publish: (rows: OutboxRow[]) => Promise<PromiseSettledResult<unknown>[]>): Promise<number> {
  const client = await pg.connect();
  try {
    const [, lock, rows] = (await client.query(
      `BEGIN;
       SELECT pg_try_advisory_xact_lock(${lockKey}) AS ok;
       SELECT seq, id, event->>'event' AS name, event::text AS json FROM outbox ORDER BY seq LIMIT ${Math.trunc(limit)} FOR UPDATE SKIP LOCKED`,
    )) as unknown as [QueryResult, QueryResult<{ ok: boolean }>, QueryResult<OutboxRow>];
    if (!lock.rows[0]?.ok || rows.rows.length === 0) {
      await client.query('COMMIT');
      return 0;
    }
    const results = await publish(rows.rows);
    const done = rows.rows.filter((_, i) => results[i].status === 'fulfilled').map((r) => r.seq);
    await client.query(done.length > 0 ? `DELETE FROM outbox WHERE seq = ANY('{${done.join(',')}}'::bigint[]); COMMIT` : 'COMMIT');
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return done.length;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Rows waiting to be published (the relay's backlog). */
export async function outboxBacklog(pg: Pool): Promise<number> {
  const res = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
  return res.rows[0].n;
}
