import type { Pool } from '../../infra/db.ts';

/**
 * Separates the documents of one insert. U+0001 cannot appear in JSON text (a control character is only
 * allowed escaped, inside a string), so splitting on it gives back each message's text exactly; a message
 * that holds one anyway is invalid JSON, and its extra piece fails the count check below.
 */
const SEPARATOR = '\u0001';
/** SEPARATOR's byte in UTF-8. */
const SEPARATOR_BYTE = 0x01;

/**
 * Inserts raw event JSON documents in one statement; Postgres extracts the columns, so the recorder never
 * parses an event in JavaScript. Idempotent on `id`: a redelivered or republished event is skipped.
 *
 * The documents travel as one text parameter, joined by SEPARATOR, rather than as a `jsonb[]`: pg escapes
 * every element of an array parameter (two regex replaces over each document, 8 % of the recorder's CPU)
 * and Postgres unescapes them again. Each piece is cast to jsonb on its own, as before, so one invalid
 * document fails the statement (a data error: the recorder isolates it as a dead letter). A count of
 * pieces other than of documents (an empty message, a U+0001 in one) fails it too, as an invalid uuid
 * (SQLSTATE 22P02, a data error) whose text says what was wrong: a message is never stored as two events,
 * nor dropped.
 */
const INSERT_EVENTS = `
  WITH pieces AS MATERIALIZED (SELECT string_to_array($1::text, chr(1)) AS docs)
  INSERT INTO events (id, occurred, event, resource_id, resource, related, payload, follows)
  SELECT (e->>'id')::uuid, (e->>'occurred')::timestamptz, e->>'event', e->'resource'->>'reflex.resource.id',
         e->'resource', coalesce(e->'related', '[]'), coalesce(e->'payload', '{}'), (e->>'follows')::uuid
  FROM (
    SELECT unnest(docs)::jsonb AS e FROM pieces
    WHERE (CASE WHEN cardinality(docs) = $2::int THEN NULL
           ELSE format('not one JSON document per message: %s pieces in %s messages', cardinality(docs), $2::int) END)::uuid IS NULL
  ) AS d
  ON CONFLICT (id) DO NOTHING`;

export async function insertEventDocuments(pool: Pool, documents: string[]): Promise<number> {
  if (documents.length === 0) return 0;
  const res = await pool.query(INSERT_EVENTS, [documents.join(SEPARATOR), documents.length]);
  return res.rowCount ?? 0;
}

/**
 * insertEventDocuments for messages as they came off the bus: their bytes are joined into one buffer
 * and sent as the text parameter's binary form (its UTF-8 bytes), so no message is decoded into a
 * JavaScript string and encoded back. PostgreSQL checks the bytes are valid UTF-8: a message that is
 * not fails the statement as a data error (22021), like any other document no insert can store.
 */
export async function insertEventMessages(pool: Pool, messages: readonly Uint8Array[]): Promise<number> {
  if (messages.length === 0) return 0;
  let size = messages.length - 1;
  for (const m of messages) size += m.byteLength;
  const joined = Buffer.allocUnsafe(size);
  let at = 0;
  for (const m of messages) {
    if (at > 0) joined[at++] = SEPARATOR_BYTE;
    joined.set(m, at);
    at += m.byteLength;
  }
  const res = await pool.query(INSERT_EVENTS, [joined, messages.length]);
  return res.rowCount ?? 0;
}
