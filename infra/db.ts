import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * Applies the versioned migrations in `migrations/` to the namespace's schema. Replicas starting together
 * wait on a per-namespace advisory lock, so exactly one applies each migration.
 */
export async function migrate(pool: Pool, schema: string): Promise<string[]> {
  const client = await pool.connect();
  try {
    // Loaded here, not at start-up: only processes that migrate pay for the migration runner.
    const { runner } = await import('node-pg-migrate');
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      schema,
      createSchema: true,
      migrationsSchema: schema,
      migrationsTable: 'reflex_migrations',
      advisoryLockMode: 'wait',
      lockValue: lockValueFor(schema),
      checkOrder: true,
      log: () => {},
    });
    return applied.map((m) => m.name);
  } finally {
    // node-pg-migrate leaves search_path pointing at the schema; that is what we want for this session only.
    await client.query('RESET search_path').catch(() => {});
    client.release();
  }
}

function lockValueFor(schema: string): number {
  return createHash('sha256').update(`reflex-migrate:${schema}`).digest().readInt32BE(0);
}

/** Runs fn in a transaction on one connection; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** An ILIKE pattern matching `text` anywhere, its wildcards escaped: a search for `50%` finds "50%", not everything. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
