import type { Pool } from '../../infra/db.ts';

/**
 * Durable waits of flow runs. A wait is opened by the flow (open: idempotent, so a run started again
 * finds the row it opened before) and resolved exactly once by a single conditional UPDATE, whoever
 * comes first: a resume, the timeout, a matching event.
 */

export type WaitKind = 'pause' | 'suspend' | 'event';
export type WaitOutcome = 'resumed' | 'timed_out' | 'matched';

export interface FlowRunWait {
  flow_run_id: string;
  wait_key: string;
  kind: WaitKind;
  spec: Record<string, unknown>;
  timeout_at: string | null;
  outcome: WaitOutcome | null;
  result: unknown;
  resolved_at: string | null;
  created: string;
}

const COLUMNS = 'flow_run_id, wait_key, kind, spec, timeout_at, outcome, result, resolved_at, created';
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));
function fromRow(r: Record<string, unknown>): FlowRunWait {
  return { ...(r as unknown as FlowRunWait), timeout_at: iso(r.timeout_at), resolved_at: iso(r.resolved_at), created: iso(r.created) as string };
}

export class Waits {
  constructor(private readonly pg: Pool) {}

  /** Opens the wait, or returns the one this call site opened before (its spec and timeout are kept). */
  async open(input: { flow_run_id: string; wait_key: string; kind: WaitKind; spec: Record<string, unknown>; timeout_at: string | null }): Promise<FlowRunWait> {
    const res = await this.pg.query(
      `INSERT INTO flow_run_waits (flow_run_id, wait_key, kind, spec, timeout_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (flow_run_id, wait_key) DO UPDATE SET flow_run_id = EXCLUDED.flow_run_id
       RETURNING ${COLUMNS}`,
      [input.flow_run_id, input.wait_key, input.kind, JSON.stringify(input.spec), input.timeout_at],
    );
    return fromRow(res.rows[0]);
  }

  async get(flowRunId: string, waitKey: string): Promise<FlowRunWait | null> {
    const res = await this.pg.query(`SELECT ${COLUMNS} FROM flow_run_waits WHERE flow_run_id = $1 AND wait_key = $2`, [flowRunId, waitKey]);
    return res.rows[0] ? fromRow(res.rows[0]) : null;
  }

  /** The run's open pause or suspension (at most one: a flow waits at one place at a time). */
  async openPause(flowRunId: string): Promise<FlowRunWait | null> {
    const res = await this.pg.query(
      `SELECT ${COLUMNS} FROM flow_run_waits WHERE flow_run_id = $1 AND kind IN ('pause', 'suspend') AND resolved_at IS NULL ORDER BY created DESC LIMIT 1`,
      [flowRunId],
    );
    return res.rows[0] ? fromRow(res.rows[0]) : null;
  }

  /** Resolves the wait if nobody did yet; null when it was already resolved (the caller lost the race). */
  async resolve(flowRunId: string, waitKey: string, outcome: WaitOutcome, result: unknown): Promise<FlowRunWait | null> {
    const res = await this.pg.query(
      `UPDATE flow_run_waits SET outcome = $3, result = $4, resolved_at = now()
       WHERE flow_run_id = $1 AND wait_key = $2 AND resolved_at IS NULL RETURNING ${COLUMNS}`,
      [flowRunId, waitKey, outcome, JSON.stringify(result ?? null)],
    );
    return res.rows[0] ? fromRow(res.rows[0]) : null;
  }

  /** Suspensions past their timeout that nobody resolved (no process waits for them: the sweeper fails them). */
  async expiredSuspensions(limit = 100): Promise<FlowRunWait[]> {
    const res = await this.pg.query(
      `SELECT ${COLUMNS} FROM flow_run_waits WHERE resolved_at IS NULL AND kind = 'suspend' AND timeout_at < now() ORDER BY timeout_at LIMIT $1`,
      [limit],
    );
    return res.rows.map(fromRow);
  }
}

/**
 * SQL text (a boolean expression) true when the run `runId` names was ever suspended and resumed: its
 * finished tasks then return their recorded results. Text, not a query, so the runs module's RUNNING
 * transition answers it in the round trip it makes anyway (modules/runs/state-writer-sql.ts) while this
 * module stays the one that knows the table.
 */
export function resumedSuspensionSql(runId: string): string {
  return `EXISTS (SELECT 1 FROM flow_run_waits w WHERE w.flow_run_id = ${runId} AND w.kind = 'suspend' AND w.outcome = 'resumed')`;
}
