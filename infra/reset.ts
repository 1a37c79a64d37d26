import type { Redis } from 'ioredis';
import pg from 'pg';
import type { EventBus } from './bus.ts';
import { isStreamNotFound } from './nats-errors.ts';
import type { Pool } from './db.ts';

export interface ResetReport {
  streams: string[];
  redisKeys: number;
  schemaDropped: boolean;
}

/**
 * Deletes everything a namespace owns: its JetStream streams (with their consumers), every Redis key
 * under its prefix (BullMQ queues included) and its Postgres schema. Each store is cleared even when
 * another is unreachable; what could not be deleted is named in the error thrown at the end, so a rerun
 * finishes the job.
 */
export async function resetNamespace(deps: { bus: EventBus; redis: Redis; pg: Pool }): Promise<ResetReport> {
  const n = deps.bus.names;
  const report: ResetReport = { streams: [], redisKeys: 0, schemaDropped: false };
  const failures: string[] = [];
  const step = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  for (const stream of Object.values(n.streams)) {
    await step(`stream ${stream}`, async () => {
      try {
        await deps.bus.jsm.streams.delete(stream);
        report.streams.push(stream);
      } catch (err) {
        if (!isStreamNotFound(err)) throw err;
      }
    });
  }
  await step('Redis keys', async () => {
    let cursor = '0';
    do {
      const [next, keys] = await deps.redis.scan(cursor, 'MATCH', n.redisPattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) report.redisKeys += await deps.redis.unlink(...keys);
    } while (cursor !== '0');
  });
  await step(`Postgres schema ${n.pgSchema}`, async () => {
    const res = await deps.pg.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [n.pgSchema]);
    if (res.rowCount) await deps.pg.query(`DROP SCHEMA ${pg.escapeIdentifier(n.pgSchema)} CASCADE`);
    report.schemaDropped = Boolean(res.rowCount);
  });
  if (failures.length > 0) throw new Error(`namespace "${n.namespace}" only partly reset; not deleted: ${failures.join('; ')}`);
  return report;
}
