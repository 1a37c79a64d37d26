import type { Pool } from '../../infra/db.ts';

/**
 * The webhook delivery failure rate for metric triggers (issue 15): failed deliveries of those that ended
 * (succeeded or failed for good) in the range, optionally of one automation's actions.
 */
export async function deliveryFailureRate(pg: Pool, q: { automation?: string; rangeSeconds: number }, now: Date): Promise<{ value: number | null; samples: number }> {
  const res = await pg.query<{ value: number | null; samples: number }>(
    `SELECT count(*) FILTER (WHERE status = 'failed')::float8 / nullif(count(*), 0) AS value, count(*)::int AS samples
     FROM webhook_deliveries WHERE status IN ('succeeded', 'failed') AND updated >= $1 AND updated <= $2 AND ($3::text IS NULL OR automation_id = $3)`,
    [new Date(now.getTime() - q.rangeSeconds * 1000), now, q.automation ?? null],
  );
  const row = res.rows[0];
  return { value: row?.value == null ? null : Number(row.value), samples: Number(row?.samples ?? 0) };
}
