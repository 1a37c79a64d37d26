import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { connectPostgres } from '../infra/connections.ts';
import { Params, PreparedStatements, type Statement } from '../infra/prepared-sql.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/** infra/prepared-sql.ts: statements sent in one simple query, prepared once per connection. */
describe('prepared statements in a simple query', () => {
  let t: TestEngine;
  let pool: pg.Pool;

  before(async () => {
    t = await startTestEngine({ services: [] });
    pool = await connectPostgres(t.config.databaseUrl, t.rt.names.pgSchema, 5000, 2);
    await pool.query('CREATE TABLE prepared_probe (id int PRIMARY KEY, doc jsonb NOT NULL)');
  });
  after(async () => {
    await pool?.end();
    await t.cleanup();
  });

  const insert = (id: number): Statement => {
    const p = new Params();
    return p.statement(`INSERT INTO prepared_probe (id, doc) VALUES (${p.place('int', String(id))}, ${p.place('jsonb', `'{"n": ${id}}'::jsonb`)}) RETURNING id, doc`);
  };
  const preparedHere = async (client: pg.PoolClient) =>
    (await client.query<{ name: string; n: string }>(`SELECT name, (generic_plans + custom_plans)::text AS n FROM pg_prepared_statements WHERE starts_with(name, 'probe_')`)).rows;

  it('prepares a statement once per connection, answers each entry its rows, and keeps working after a failed query', async () => {
    const prepared = new PreparedStatements('probe_');
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('BEGIN');
      const count = new Params().statement('SELECT count(*)::int AS n FROM prepared_probe');
      const first = await prepared.run(a, [insert(1), null, 'SELECT 7 AS seven', count, 'COMMIT']);
      assert.deepEqual(first, [[{ id: 1, doc: { n: 1 } }], [], [{ seven: 7 }], [{ n: 1 }], []]);
      await a.query('BEGIN');
      await prepared.run(a, [insert(2), 'COMMIT']);
      const once = (await preparedHere(a)).filter((r) => r.n !== '1');
      assert.equal((await preparedHere(a)).length, 2, 'one prepared statement for each text');
      assert.equal(once.length, 1);
      assert.equal(once[0].n, '2', 'both inserts executed the insert');

      // A duplicate key fails the EXECUTE and rolls the transaction back; the statement stays prepared
      // (PREPARE is not undone by a rollback), and the next use must neither prepare it again nor fail.
      await a.query('BEGIN');
      await assert.rejects(prepared.run(a, [insert(2), 'COMMIT']), (err: unknown) => (err as { code?: string }).code === '23505');
      await a.query('ROLLBACK');
      await a.query('BEGIN');
      assert.deepEqual(await prepared.run(a, [insert(3), 'COMMIT']), [[{ id: 3, doc: { n: 3 } }], []]);
      assert.equal((await preparedHere(a)).length, 2);

      // Another connection has none until it prepares its own. Its first query fails after the PREPARE
      // ran (a duplicate key): the next one finds the statement prepared instead of preparing it again.
      assert.deepEqual(await preparedHere(b), []);
      await b.query('BEGIN');
      await assert.rejects(prepared.run(b, [insert(1), 'COMMIT']), (err: unknown) => (err as { code?: string }).code === '23505');
      await b.query('ROLLBACK');
      assert.equal((await preparedHere(b)).length, 1);
      await b.query('BEGIN');
      assert.deepEqual(await prepared.run(b, [insert(4), 'COMMIT']), [[{ id: 4, doc: { n: 4 } }], []]);
      assert.equal((await preparedHere(b)).length, 1);
      const { rows } = await a.query<{ n: string }>('SELECT count(*)::text AS n FROM prepared_probe');
      assert.equal(rows[0].n, '4', 'the failed insert wrote nothing; the others committed');
    } finally {
      await a.query('ROLLBACK').catch(() => {});
      await b.query('ROLLBACK').catch(() => {});
      a.release();
      b.release();
    }
  });
});
