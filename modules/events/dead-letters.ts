import { deterministicUuid } from '../../core/ids.ts';
import type { Pool } from '../../infra/db.ts';
import { storableText } from '../../core/json.ts';

/**
 * The dead-letter table (migrations/0007_dead_letters.sql): what a consumer could not apply, kept with
 * its exact bytes. The id derives from (consumer, stream sequence), so a message dead-lettered twice (a
 * crash between the insert and the ack) is kept once.
 */

export interface DeadLetter {
  id: string;
  consumer: string;
  subject: string;
  stream_seq: number;
  reason: string;
  error_code: string | null;
  received: string;
  replayed_at: string | null;
  replay_count: number;
  last_replay_error: string | null;
  size_bytes: number;
}

export interface DeadLetterDetail extends DeadLetter {
  /** The message as UTF-8 text (invalid bytes and NUL shown as U+FFFD). */
  data_text: string;
  /** The exact bytes. */
  data_base64: string;
}

export interface NewDeadLetter {
  consumer: string;
  subject: string;
  streamSeq: number;
  data: Uint8Array;
  reason: string;
  errorCode?: string | null;
}

export function deadLetterId(consumer: string, streamSeq: number): string {
  return deterministicUuid(`dead-letter/${consumer}/${streamSeq}`);
}

export async function insertDeadLetter(pg: Pool, d: NewDeadLetter): Promise<string> {
  const id = deadLetterId(d.consumer, d.streamSeq);
  await pg.query(
    `INSERT INTO dead_letters (id, consumer, subject, stream_seq, data, reason, error_code) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO NOTHING`,
    [id, d.consumer, storableText(d.subject), d.streamSeq, Buffer.from(d.data), storableText(d.reason).slice(0, 4000), d.errorCode ?? null],
  );
  return id;
}

const COLUMNS = `id, consumer, subject, stream_seq, reason, error_code, received, replayed_at, replay_count, last_replay_error, octet_length(data) AS size_bytes`;

function toDeadLetter(r: Record<string, unknown>): DeadLetter {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : null);
  return {
    id: r.id as string,
    consumer: r.consumer as string,
    subject: r.subject as string,
    stream_seq: Number(r.stream_seq),
    reason: r.reason as string,
    error_code: (r.error_code as string | null) ?? null,
    received: iso(r.received) as string,
    replayed_at: iso(r.replayed_at),
    replay_count: Number(r.replay_count),
    last_replay_error: (r.last_replay_error as string | null) ?? null,
    size_bytes: Number(r.size_bytes),
  };
}

/** Newest first; the cursor is the last item's id (ids of one second sort by sequence, well enough). */
export async function listDeadLetters(pg: Pool, options: { limit: number; cursor?: { received: string; id: string } }): Promise<DeadLetter[]> {
  const res = options.cursor
    ? await pg.query(`SELECT ${COLUMNS} FROM dead_letters WHERE (received, id) < ($1::timestamptz, $2::uuid) ORDER BY received DESC, id DESC LIMIT $3`, [
        options.cursor.received,
        options.cursor.id,
        options.limit,
      ])
    : await pg.query(`SELECT ${COLUMNS} FROM dead_letters ORDER BY received DESC, id DESC LIMIT $1`, [options.limit]);
  return res.rows.map(toDeadLetter);
}

export async function getDeadLetter(pg: Pool, id: string): Promise<(DeadLetterDetail & { data: Buffer }) | null> {
  const res = await pg.query(`SELECT ${COLUMNS}, data FROM dead_letters WHERE id = $1`, [id]);
  const row = res.rows[0];
  if (!row) return null;
  const data = row.data as Buffer;
  return { ...toDeadLetter(row), data, data_text: storableText(data.toString('utf8')), data_base64: data.toString('base64') };
}

export async function countDeadLetters(pg: Pool): Promise<number> {
  const res = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM dead_letters WHERE replayed_at IS NULL');
  return res.rows[0].n;
}

export async function markReplayed(pg: Pool, id: string, error: string | null): Promise<void> {
  await pg.query(
    `UPDATE dead_letters SET replay_count = replay_count + 1, last_replay_error = $2, replayed_at = CASE WHEN $2::text IS NULL THEN now() ELSE replayed_at END WHERE id = $1`,
    [id, error === null ? null : storableText(error).slice(0, 4000)],
  );
}

export async function deleteDeadLetter(pg: Pool, id: string): Promise<boolean> {
  const res = await pg.query('DELETE FROM dead_letters WHERE id = $1', [id]);
  return (res.rowCount ?? 0) > 0;
}
