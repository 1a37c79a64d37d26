import { isUuid } from '../../core/ids.ts';
import type { Pool } from '../../infra/db.ts';
import type { RunCauseKind } from '../../schemas/dashboard.ts';
import type { TriggeredBy } from '../../schemas/jobs.ts';
import { runKeys } from './deployment-runs.ts';

/**
 * What started a flow run, as far as the runs module knows it. An automation's run-deployment command
 * records its `triggered_by` on the run (DeploymentRuns.create, column from migration 0040); the other
 * causes are read off the run itself: a scheduler run has a `schedule:` idempotency key, a subflow has a
 * parent, a deployment run without either was asked for through the API or the CLI, and a run without a
 * deployment was a flow called directly in a script. The automation, firing and event behind
 * `triggered_by` belong to other modules: the API looks them up.
 */
export interface RunOrigin {
  kind: RunCauseKind;
  /** Set for kind `automation`; its ids are UUIDs (DeploymentRuns keeps no other). */
  triggered_by: TriggeredBy | null;
  /** For schedule runs: the start time the schedule asked for. */
  scheduled_for: string | null;
  parent_flow_run: { id: string; name: string } | null;
}

export async function getRunOrigin(pg: Pool, id: string): Promise<RunOrigin | null> {
  if (!isUuid(id)) return null;
  const res = await pg.query(
    `SELECT f.triggered_by, f.idempotency_key, f.deployment_id, p.id AS parent_id, p.name AS parent_name
     FROM flow_runs f LEFT JOIN flow_runs p ON p.id = f.parent_flow_run_id WHERE f.id = $1`,
    [id],
  );
  const r = res.rows[0];
  if (!r) return null;
  const by = (r.triggered_by as TriggeredBy | null) ?? null;
  const key = (r.idempotency_key as string | null) ?? '';
  const schedulePrefix = r.deployment_id ? runKeys.schedulePrefix(r.deployment_id) : null;
  const kind: RunCauseKind = by?.automation_id
    ? 'automation'
    : schedulePrefix && key.startsWith(schedulePrefix)
      ? 'schedule'
      : r.parent_id
        ? 'subflow'
        : r.deployment_id
          ? 'manual'
          : 'direct';
  return {
    kind,
    triggered_by: kind === 'automation' ? by : null,
    scheduled_for: kind === 'schedule' && schedulePrefix ? key.slice(schedulePrefix.length) || null : null,
    parent_flow_run: r.parent_id ? { id: r.parent_id, name: r.parent_name } : null,
  };
}
