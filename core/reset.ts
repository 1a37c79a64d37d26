import type { Redis } from 'ioredis';
import pg from 'pg';
import type { EventBus } from './bus.ts';
import type { Pool } from './db.ts';

export interface ResetReport {
  streams: string[];
  redisKeys: number;
  schemaDropped: boolean;
}

/**
 * Deletes everything a namespace owns: its JetStream streams (with their consumers), every Redis key
 * under its prefix (BullMQ queues included) and its Postgres schema.
 */
export async function resetNamespace(deps: { bus: EventBus; redis: Redis; pg: Pool }): Promise<ResetReport> {
  const n = deps.bus.names;
  const streams: string[] = [];
  for (const stream of Object.values(n.streams)) {
    try {
      await deps.bus.jsm.streams.delete(stream);
      streams.push(stream);
    } catch (err) {
      if (!String(err).includes('not found')) throw err;
    }
  }
  let redisKeys = 0;
  let cursor = '0';
  do {
    const [next, keys] = await deps.redis.scan(cursor, 'MATCH', n.redisPattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) redisKeys += await deps.redis.unlink(...keys);
  } while (cursor !== '0');
  const res = await deps.pg.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [n.pgSchema]);
  if (res.rowCount) await deps.pg.query(`DROP SCHEMA ${pg.escapeIdentifier(n.pgSchema)} CASCADE`);
  return { streams, redisKeys, schemaDropped: Boolean(res.rowCount) };
}
