import type { Pool } from '../../infra/db.ts';
import type { Deployment, DeploymentSla } from '../../schemas/deployment.ts';
import type { SlaFacts } from './engine/slas.ts';

/** What SLA evaluation reads of the runs module's tables (issue 15): deployments with SLAs and their runs' facts. */

/** At most this many runs per deployment and per kind are looked at in one pass (the oldest first: they violate first). */
const MAX_RUNS = 1000;

export interface SlaDeployment {
  id: string;
  name: string;
  flow: string;
  created: number;
  slas: DeploymentSla[];
}

/** Deployments with SLAs, and those of `alsoIds` (open violations to resolve) whatever their SLAs now. */
export async function deploymentsWithSlas(pg: Pool, alsoIds: string[] = []): Promise<SlaDeployment[]> {
  const res = await pg.query<{ id: string; name: string; flow_name: string; created: Date; slas: Deployment['slas'] }>(
    `SELECT id, name, flow_name, created, slas FROM deployments WHERE jsonb_array_length(slas) > 0 OR id::text = ANY($1::text[]) ORDER BY id`,
    [alsoIds],
  );
  return res.rows.map((r) => ({ id: r.id, name: r.name, flow: r.flow_name, created: new Date(r.created).getTime(), slas: r.slas }));
}

/** The facts of one deployment (without the freshness events, which the events module answers). */
export async function slaRunFacts(pg: Pool, d: SlaDeployment): Promise<Omit<SlaFacts, 'lastEvent'>> {
  const [running, waiting, completed] = await Promise.all([
    pg.query<{ id: string; name: string; at: Date }>(
      `SELECT id, name, start_time AS at FROM flow_runs WHERE deployment_id = $1 AND state_type IN ('RUNNING', 'CANCELLING') AND start_time IS NOT NULL
       ORDER BY start_time LIMIT ${MAX_RUNS}`,
      [d.id],
    ),
    pg.query<{ id: string; name: string; at: Date }>(
      `SELECT id, name, coalesce(state_scheduled_time, expected_start_time) AS at FROM flow_runs
       WHERE deployment_id = $1 AND state_type IN ('SCHEDULED', 'PENDING') AND coalesce(state_scheduled_time, expected_start_time) <= now()
       ORDER BY 3 LIMIT ${MAX_RUNS}`,
      [d.id],
    ),
    pg.query<{ at: Date | null }>(`SELECT max(end_time) AS at FROM flow_runs WHERE deployment_id = $1 AND state_type = 'COMPLETED'`, [d.id]),
  ]);
  const fact = (r: { id: string; name: string; at: Date }) => ({ id: r.id, name: r.name, at: new Date(r.at).getTime() });
  const last = completed.rows[0]?.at;
  return {
    deployment: { id: d.id, created: d.created, slas: d.slas },
    running: running.rows.map(fact),
    waiting: waiting.rows.map(fact),
    lastCompleted: last ? new Date(last).getTime() : null,
  };
}
