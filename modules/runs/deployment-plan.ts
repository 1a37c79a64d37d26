import type { Pool } from '../../infra/db.ts';
import type { DeploymentPlan } from '../../schemas/dashboard.ts';
import type { Deployment } from '../../schemas/deployment.ts';
import { upcomingStartTimes } from './engine/schedule.ts';
import { iso } from './rows.ts';

/** How far ahead a plan looks for a schedule's next start times. */
const HORIZON_MS = 366 * 24 * 3600 * 1000;

/**
 * What a deployment will run next: the start times each active schedule asks for (computed with the
 * scheduler's own function, so the dashboard shows what the scheduler will do) and the runs already
 * created and waiting to start.
 */
export async function deploymentPlan(pg: Pool, d: Deployment, count: number, now = new Date()): Promise<DeploymentPlan> {
  const schedules = d.schedules.map((s, index) => ({
    index,
    active: s.active !== false,
    description: 'cron' in s ? `cron ${s.cron} (${s.timezone})` : `every ${s.interval_seconds} s`,
    next: s.active === false ? [] : upcomingStartTimes(s, { now, horizonMs: HORIZON_MS, maxRuns: count }).map((t) => t.toISOString()),
  }));
  const res = await pg.query(
    `SELECT id, name, state_name, state_scheduled_time FROM flow_runs
     WHERE deployment_id = $1 AND state_type = 'SCHEDULED' ORDER BY state_scheduled_time NULLS LAST LIMIT $2`,
    [d.id, count],
  );
  return {
    schedules,
    scheduled_runs: res.rows.map((r) => ({ id: r.id, name: r.name, state_name: r.state_name, scheduled_time: iso(r.state_scheduled_time) })),
  };
}
