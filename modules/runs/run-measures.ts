import type { Pool } from '../../infra/db.ts';

/**
 * Measures of flow runs for metric triggers (issue 15), over a sliding range ending now. Each answers the
 * value and how many runs it was computed from (a rate of 2 runs is not worth an alert: `min_samples`).
 */

export type FlowRunMetric = 'flow-run-success-rate' | 'flow-run-duration' | 'flow-run-lateness' | 'flow-run-count';

export interface FlowRunMeasureQuery {
  metric: FlowRunMetric;
  deployment?: string;
  flow?: string;
  work_pool?: string;
  automation?: string;
  rangeSeconds: number;
  percentile: number;
  states: string[];
}

export interface Measure {
  value: number | null;
  samples: number;
}

export async function flowRunMeasure(pg: Pool, q: FlowRunMeasureQuery, now: Date): Promise<Measure> {
  const args: unknown[] = [new Date(now.getTime() - q.rangeSeconds * 1000), now];
  const where: string[] = [];
  const add = (v: unknown) => `$${args.push(v)}`;
  if (q.deployment) where.push(`f.deployment_id IN (SELECT id FROM deployments WHERE id::text = ${add(q.deployment)} OR name = ${add(q.deployment)})`);
  if (q.flow) where.push(`f.flow_name = ${add(q.flow)}`);
  if (q.work_pool) where.push(`f.work_pool = ${add(q.work_pool)}`);
  if (q.automation) where.push(`f.triggered_by->>'automation_id' = ${add(q.automation)}`);
  const scope = where.length ? `AND ${where.join(' AND ')}` : '';
  let sql: string;
  switch (q.metric) {
    case 'flow-run-success-rate':
      // CANCELLED runs are an operator's decision, not a failure: they count neither way.
      sql = `SELECT count(*) FILTER (WHERE state_type = 'COMPLETED')::float8 / nullif(count(*), 0) AS value, count(*)::int AS samples
             FROM flow_runs f WHERE f.end_time >= $1 AND f.end_time <= $2 AND f.state_type IN ('COMPLETED', 'FAILED', 'CRASHED') ${scope}`;
      break;
    case 'flow-run-duration':
      sql = `SELECT percentile_cont(${add(q.percentile / 100)}::float8) WITHIN GROUP (ORDER BY extract(epoch FROM f.end_time - f.start_time)) AS value, count(*)::int AS samples
             FROM flow_runs f WHERE f.end_time >= $1 AND f.end_time <= $2 AND f.start_time IS NOT NULL AND f.state_type IN ('COMPLETED', 'FAILED', 'CRASHED') ${scope}`;
      break;
    case 'flow-run-lateness':
      sql = `SELECT percentile_cont(${add(q.percentile / 100)}::float8) WITHIN GROUP (ORDER BY greatest(0, extract(epoch FROM f.start_time - f.expected_start_time))) AS value, count(*)::int AS samples
             FROM flow_runs f WHERE f.start_time >= $1 AND f.start_time <= $2 AND f.expected_start_time IS NOT NULL ${scope}`;
      break;
    case 'flow-run-count':
      sql = `SELECT count(*)::float8 AS value, count(*)::int AS samples
             FROM flow_runs f WHERE f.state_type = ANY(${add(q.states)}::text[]) AND f.state_timestamp >= $1 AND f.state_timestamp <= $2 ${scope}`;
      break;
    default: {
      const never: never = q.metric;
      throw new Error(`unknown metric ${String(never)}`);
    }
  }
  const res = await pg.query<{ value: number | null; samples: number }>(sql, args);
  const row = res.rows[0];
  return { value: row?.value == null ? null : Number(row.value), samples: Number(row?.samples ?? 0) };
}
