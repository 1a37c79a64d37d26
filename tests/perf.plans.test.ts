import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createLogger } from '../core/log.ts';
import { connectPostgres } from '../infra/connections.ts';
import { DeliveryLog } from '../modules/webhooks/index.ts';
import type { FlowRunRecord, TaskRunRecord } from '../modules/runs/rows.ts';
import { PreparedStatements } from '../infra/prepared-sql.ts';
import { flowRunsByKeySql, lockFlowRunsSql, replayingRunsSql, writeBatchSql } from '../modules/runs/state-writer-sql.ts';
import { resumedSuspensionSql } from '../modules/waits/index.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/**
 * The batch statements on the hot path reach their tables through the primary key even when the table
 * has grown since its last ANALYZE (every new install). They once joined a jsonb recordset, which the
 * planner takes for 100 rows, and so scanned the whole delivery table for every batch of ten: Postgres
 * spent half a core on it at 500 deliveries/s, and the cost grew with the table.
 */
describe('hot statements use the index on tables whose statistics are stale', () => {
  let t: TestEngine;
  // One connection: its statistics are flushed before they are read (pg_stat_force_next_flush).
  let pool: pg.Pool;

  before(async () => {
    t = await startTestEngine({ services: [] });
    pool = await connectPostgres(t.config.databaseUrl, t.rt.names.pgSchema, 5000, 1);
  });
  after(async () => {
    await pool?.end();
    await t.cleanup();
  });

  async function seqScans(table: string): Promise<number> {
    await pool.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await t.rt.pg.query<{ n: string }>(
      `SELECT seq_scan::text AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`,
      [t.rt.names.pgSchema, table],
    );
    return Number(rows[0].n);
  }

  it('the delivery log does not scan webhook_deliveries once the table has grown, begins and attempts alike', async () => {
    const log = new DeliveryLog(pool, createLogger({ level: 'silent' }));
    const round = async () => {
      const jobs = Array.from({ length: 10 }, () => {
        const id = randomUUID();
        return { delivery_id: id, idempotency_key: id, url: 'http://127.0.0.1:9/hook', method: 'POST' as const, headers: {}, body: '{}', format: 'json' as const, timeout_seconds: 10, retry: { attempts: 3, delay_seconds: 1 }, automation_id: null, firing_id: null, event_id: null, chain: [] };
      });
      const states = await Promise.all(jobs.map((j) => log.begin(j)));
      assert.ok(states.every((s) => s.fresh && s.series === 1 && s.status === 'pending'));
      await Promise.all(
        jobs.map((j) =>
          log.recordAttempt({
            deliveryId: j.delivery_id,
            job: j,
            attempt: { series: 1, attempt: 1, started: new Date().toISOString(), status_code: 204, latency_ms: 1, response_headers: {}, response_body: '', error: null, outcome: 'succeeded' },
            status: 'succeeded',
            nextAttemptAt: null,
          }),
        ),
      );
      // A begin of a delivery that exists reads its row (the stale check) through the same index.
      assert.deepEqual(await log.begin(jobs[0]), { fresh: false, series: 1, status: 'succeeded', claimed: false });
      const { rows } = await pool.query<{ attempt_count: number }>('SELECT attempt_count FROM webhook_deliveries WHERE id = $1', [jobs[1].delivery_id]);
      assert.equal(rows[0].attempt_count, 1);
    };
    // On the new, empty table first, as on a new install: more than five batches, after which a named
    // statement would keep the plan it made for an empty table.
    for (let i = 0; i < 8; i++) await round();
    // Then the table grows, with no ANALYZE since.
    await pool.query(
      `INSERT INTO webhook_deliveries (id, idempotency_key, url, method, body, timeout_seconds, retry, status, attempt_count)
       SELECT 'old-' || g, 'old-' || g, 'http://127.0.0.1/x', 'POST', '{}', 10, '{}', 'succeeded', 1 FROM generate_series(1, 20000) g`,
    );
    const before = await seqScans('webhook_deliveries');
    for (let i = 0; i < 4; i++) await round();
    assert.equal(await seqScans('webhook_deliveries'), before, 'a delivery-log batch scanned webhook_deliveries');
  });

  it('the run state writer plans flow_runs and task_runs through their index, its prepared write included', async () => {
    const client = await pool.connect();
    const prepared = new PreparedStatements('reflex_test_');
    const timestamp = new Date().toISOString();
    const record = (id: string) => ({ id, state: { type: 'RUNNING', name: 'Running', timestamp }, run_count: 1, start_time: timestamp, end_time: null, total_run_time_seconds: 0, result: null });
    const write = () => {
      const ids = Array.from({ length: 10 }, () => randomUUID());
      const statement = writeBatchSql({
        newTaskRuns: [],
        flowStates: [],
        taskStates: [],
        flowRuns: ids.map(record) as unknown as FlowRunRecord[],
        taskRuns: ids.map(record) as unknown as TaskRunRecord[],
        outbox: [],
        notifyChannel: 'unused',
      });
      assert.ok(statement);
      return { ids, statement };
    };
    // A batch of transitions as the writer sends it: the reads that lock the runs, then the write.
    const batch = async () => {
      const { ids, statement } = write();
      await client.query('BEGIN');
      await prepared.run(client, [lockFlowRunsSql(ids), replayingRunsSql(ids, resumedSuspensionSql)]);
      await prepared.run(client, [statement, 'COMMIT']);
    };
    try {
      // On the new, empty tables first, more than five times: Postgres then keeps a generic plan, made
      // for tables of no rows (a sequential scan, unless the writer rules it out).
      for (let i = 0; i < 8; i++) await batch();
      await client.query(
        `INSERT INTO flow_runs (id, name, flow_name, parameters, tags, state_type, state_name, state_timestamp, run_count, created, updated, idempotency_key)
         SELECT gen_random_uuid(), 'old-' || g, 'etl', '{}', '{}', 'COMPLETED', 'Completed', now(), 1, now(), now(), 'old-' || g FROM generate_series(1, 20000) g`,
      );
      await client.query(
        `INSERT INTO task_runs (id, flow_run_id, task_name, dynamic_key, state_type, state_name, state_timestamp)
         SELECT gen_random_uuid(), (SELECT id FROM flow_runs LIMIT 1), 'extract', g::text, 'COMPLETED', 'Completed', now() FROM generate_series(1, 20000) g`,
      );
      // The next batches on this connection, with no ANALYZE since: they must not scan either table.
      const scans = async () => {
        await client.query('SELECT pg_stat_force_next_flush()');
        const { rows } = await t.rt.pg.query<{ n: string }>(
          `SELECT sum(seq_scan)::text AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname IN ('flow_runs', 'task_runs')`,
          [t.rt.names.pgSchema],
        );
        return Number(rows[0].n);
      };
      const before = await scans();
      for (let i = 0; i < 4; i++) await batch();
      assert.equal(await scans(), before, 'a prepared batch scanned flow_runs or task_runs');
      const { rows: stats } = await client.query<{ generic_plans: string }>(`SELECT generic_plans::text FROM pg_prepared_statements WHERE starts_with(name, 'reflex_test_')`);
      assert.equal(stats.length, 3, 'one prepared statement for each of the lock read, the replay read and the write');
      assert.ok(stats.every((r) => Number(r.generic_plans) > 0), 'the batches ran the kept generic plans');
      const { rows: byKey } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${flowRunsByKeySql(Array.from({ length: 10 }, () => `key-${randomUUID()}`))}`);
      const plan = byKey.map((r) => r['QUERY PLAN']).join('\n');
      assert.doesNotMatch(plan, /Seq Scan on flow_runs/, plan);
      assert.match(plan, /Index|Bitmap/, plan);
    } finally {
      client.release();
    }
  });
});
