import type { Pool } from '../../infra/db.ts';

/**
 * Inserts raw event JSON documents in one statement; Postgres extracts the columns, so the recorder never
 * parses an event in JavaScript. Idempotent on `id`: a redelivered or republished event is skipped.
 */
const INSERT_EVENTS = `
  INSERT INTO events (id, occurred, event, resource_id, resource, related, payload, follows)
  SELECT (e->>'id')::uuid, (e->>'occurred')::timestamptz, e->>'event', e->'resource'->>'reflex.resource.id',
         e->'resource', coalesce(e->'related', '[]'), coalesce(e->'payload', '{}'), (e->>'follows')::uuid
  FROM unnest($1::jsonb[]) AS e
  ON CONFLICT (id) DO NOTHING`;

export async function insertEventDocuments(pool: Pool, documents: string[]): Promise<number> {
  const res = await pool.query(INSERT_EVENTS, [documents]);
  return res.rowCount ?? 0;
}
