import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts';
import { isUuid, newId } from '../../core/ids.ts';
import { canonicalJson, stringProblem } from '../../core/json.ts';
import { inTransaction, type Pool, type PoolClient } from '../../infra/db.ts';
import { isUniqueViolation } from '../../infra/pg-errors.ts';
import type { Deployment, DeploymentInput, DeploymentPatch } from '../../schemas/deployment.ts';
import type { DeploymentRuns } from './deployment-runs.ts';
import { parameterSchemaProblem } from './engine/parameters.ts';
import { iso } from './rows.ts';
import { ensureWorkPool } from './work-pools.ts';
import { checkRunControl } from './run-keys.ts';

/** Deployments: owns the `deployments` table. Reads are functions of a connection; changes go through Deployments. */

type Db = Pool | PoolClient;

/** Fields compared by `apply` to tell `updated` from `unchanged`. */
const DECLARED = ['flow', 'description', 'parameters', 'parameter_schema', 'work_pool', 'schedules', 'tags', 'concurrency_limit', 'paused', 'concurrency', 'priority', 'slas'] as const;

function fromRow(r: Record<string, unknown>): Deployment {
  return {
    id: r.id as string,
    name: r.name as string,
    flow: r.flow_name as string,
    description: (r.description as string | null) ?? null,
    parameters: (r.parameters as Record<string, unknown>) ?? {},
    parameter_schema: (r.parameter_schema as Record<string, unknown> | null) ?? null,
    work_pool: r.work_pool as string,
    schedules: (r.schedules as Deployment['schedules']) ?? [],
    tags: (r.tags as string[]) ?? [],
    concurrency_limit: (r.concurrency_limit as number | null) ?? null,
    paused: Boolean(r.paused),
    concurrency: (r.concurrency as Deployment['concurrency']) ?? null,
    priority: r.priority == null ? 0 : Number(r.priority),
    slas: (r.slas as Deployment['slas']) ?? [],
    created: iso(r.created) as string,
    updated: iso(r.updated) as string,
  };
}

function checkParameterSchema(schema: Record<string, unknown> | null | undefined, path = 'parameter_schema'): void {
  if (!schema) return;
  const problem = parameterSchemaProblem(schema);
  if (problem) throw new ValidationError(`invalid ${path}: ${problem}`, [{ path, message: problem }]);
}

/** The run-control columns (migration 0550); a declaration made before them has none. */
function runControlValues(d: Partial<Pick<Deployment, 'concurrency' | 'priority' | 'slas'>>): [string | null, number, string] {
  return [d.concurrency ? JSON.stringify(d.concurrency) : null, d.priority ?? 0, JSON.stringify(d.slas ?? [])];
}

const nameTaken = (name: string) => new ConflictError(`a deployment named "${name}" already exists`);

/** A deployment to create: the run-control fields (issue 15) may be left out by callers that predate them. */
type RunControlFields = 'concurrency' | 'priority' | 'slas';
export type NewDeployment = Omit<DeploymentInput, RunControlFields> & Partial<Pick<DeploymentInput, RunControlFields>>;

async function insertDeployment(db: Db, d: NewDeployment): Promise<Deployment> {
  await ensureWorkPool(db, d.work_pool);
  try {
    const res = await db.query(
      `INSERT INTO deployments (id, name, flow_name, description, parameters, parameter_schema, work_pool, schedules, tags, concurrency_limit, paused, concurrency, priority, slas)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *`,
      [newId(), d.name, d.flow, d.description, d.parameters, d.parameter_schema === null ? null : JSON.stringify(d.parameter_schema), d.work_pool, JSON.stringify(d.schedules), d.tags, d.concurrency_limit, d.paused, ...runControlValues(d)],
    );
    return fromRow(res.rows[0]);
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(d.name);
    throw err;
  }
}

async function writeDeployment(db: Db, id: string, d: Omit<Deployment, 'id' | 'created' | 'updated'>): Promise<Deployment> {
  await ensureWorkPool(db, d.work_pool);
  try {
    const res = await db.query(
      `UPDATE deployments SET name = $2, flow_name = $3, description = $4, parameters = $5, parameter_schema = $6, work_pool = $7,
         schedules = $8, tags = $9, concurrency_limit = $10, paused = $11, concurrency = $12, priority = $13, slas = $14, updated = now()
       WHERE id = $1 RETURNING *`,
      [id, d.name, d.flow, d.description, d.parameters, d.parameter_schema === null ? null : JSON.stringify(d.parameter_schema), d.work_pool, JSON.stringify(d.schedules), d.tags, d.concurrency_limit, d.paused, ...runControlValues(d)],
    );
    if (!res.rows[0]) throw new NotFoundError('deployment', id);
    return fromRow(res.rows[0]);
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(d.name);
    throw err;
  }
}

/** Finds a deployment by id or, when the reference is not a UUID or no id matches, by name or `<flow>/<name>`. */
export async function getDeployment(db: Db, ref: string, lock = false): Promise<Deployment | null> {
  const suffix = lock ? ' FOR UPDATE' : '';
  if (isUuid(ref)) {
    const byId = await db.query(`SELECT * FROM deployments WHERE id = $1${suffix}`, [ref]);
    if (byId.rows[0]) return fromRow(byId.rows[0]);
  }
  // Names cannot hold '/', so `<flow>/<name>` (as Prefect writes a deployment) is unambiguous.
  const slash = ref.indexOf('/');
  const byName =
    slash < 0
      ? await db.query(`SELECT * FROM deployments WHERE name = $1${suffix}`, [ref])
      : await db.query(`SELECT * FROM deployments WHERE flow_name = $1 AND name = $2${suffix}`, [ref.slice(0, slash), ref.slice(slash + 1)]);
  return byName.rows[0] ? fromRow(byName.rows[0]) : null;
}

/**
 * A deployment with whether its work pool is paused: what creating a run checks first. `version` is the
 * row's version as this read saw it (its `xmin`, which every UPDATE changes): a run created from a
 * remembered read names it, and is written only if the deployment is still that row and neither it nor
 * its pool is paused (modules/runs/commands.ts).
 */
export type DeploymentForRun = { deployment: Deployment; poolPaused: boolean; version: string };

/**
 * Deployments by id, name or `<flow>/<name>` (as getDeployment: an id wins over a name that looks like
 * one), each with whether its work pool is paused, in one query for many references: the run-deployment
 * actions of a batch of events pay one round trip together, not two each. A reference that matches
 * nothing is absent from the map.
 */
export async function deploymentsForRuns(db: Db, given: readonly string[]): Promise<Map<string, DeploymentForRun>> {
  // A reference PostgreSQL cannot hold (rendered from a template: a NUL, a lone surrogate) names no
  // deployment, and must not fail the query the other references of the batch share.
  const refs = given.filter((r) => stringProblem(r) === null);
  if (refs.length === 0) return new Map();
  const ids = refs.map((r) => (isUuid(r) ? r : null));
  const names = refs.map((r) => (r.includes('/') ? r.slice(r.indexOf('/') + 1) : r));
  const flows = refs.map((r) => (r.includes('/') ? r.slice(0, r.indexOf('/')) : null));
  const res = await db.query(
    `SELECT r.ref, d.*, coalesce(p.paused, false) AS work_pool_paused
     FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[]) AS r(ref, id, name, flow)
     CROSS JOIN LATERAL (
       SELECT d.*, d.xmin::text AS row_version FROM deployments d
       WHERE (r.id IS NOT NULL AND d.id = r.id) OR (r.flow IS NULL AND d.name = r.name) OR (r.flow IS NOT NULL AND d.flow_name = r.flow AND d.name = r.name)
       ORDER BY (r.id IS NOT NULL AND d.id = r.id) DESC LIMIT 1
     ) d
     LEFT JOIN work_pools p ON p.name = d.work_pool`,
    [refs, ids, names, flows],
  );
  return new Map(res.rows.map((row: Record<string, unknown>) => [row.ref as string, { deployment: fromRow(row), poolPaused: Boolean(row.work_pool_paused), version: row.row_version as string }]));
}

export async function requireDeployment(db: Db, ref: string): Promise<Deployment> {
  const d = await getDeployment(db, ref);
  if (!d) throw new NotFoundError('deployment', ref);
  return d;
}

export async function listDeployments(db: Db, options: { limit: number; cursor?: string; flow?: string }): Promise<{ items: Deployment[]; next_cursor: string | null }> {
  const res = await db.query(
    `SELECT * FROM deployments WHERE ($1::text IS NULL OR name > $1) AND ($2::text IS NULL OR flow_name = $2) ORDER BY name LIMIT $3`,
    [options.cursor ?? null, options.flow ?? null, options.limit + 1],
  );
  const items = res.rows.slice(0, options.limit).map(fromRow);
  return { items, next_cursor: res.rows.length > options.limit ? items[items.length - 1].name : null };
}

/** What the worker's slot check needs of a deployment: its wide cap and its concurrency keys. */
export async function deploymentRunControl(db: Db, id: string): Promise<{ limit: number | null; concurrency: Deployment['concurrency'] }> {
  const r = await db.query<{ concurrency_limit: number | null; concurrency: Deployment['concurrency'] }>('SELECT concurrency_limit, concurrency FROM deployments WHERE id = $1', [id]);
  return { limit: r.rows[0]?.concurrency_limit ?? null, concurrency: r.rows[0]?.concurrency ?? null };
}

/** The concurrency limit of a deployment (null: none), for the worker's slot check. */
export async function deploymentLimit(db: Db, id: string): Promise<number | null> {
  const r = await db.query<{ concurrency_limit: number | null }>('SELECT concurrency_limit FROM deployments WHERE id = $1', [id]);
  return r.rows[0]?.concurrency_limit ?? null;
}

/** The ids of deployments whose schedules the scheduler plans: not paused, pool not paused, with schedules. */
export async function schedulableDeploymentIds(db: Db): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `SELECT d.id FROM deployments d LEFT JOIN work_pools p ON p.name = d.work_pool
     WHERE NOT d.paused AND NOT coalesce(p.paused, false) AND jsonb_array_length(d.schedules) > 0`,
  );
  return res.rows.map((r) => r.id);
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

/** Changes to deployments: each one that changes schedules or pauses removes the runs planned ahead. */
export class Deployments {
  constructor(
    private readonly pg: Pool,
    private readonly runs: DeploymentRuns,
  ) {}

  async create(input: NewDeployment): Promise<Deployment> {
    checkParameterSchema(input.parameter_schema);
    checkRunControl(input);
    return insertDeployment(this.pg, input);
  }

  /** Applies a partial update. Changing schedules or pausing removes the runs the scheduler created ahead. */
  async update(ref: string, patch: DeploymentPatch): Promise<Deployment> {
    checkParameterSchema(patch.parameter_schema);
    const { before, after } = await inTransaction(this.pg, async (client) => {
      const current = await getDeployment(client, ref, true);
      if (!current) throw new NotFoundError('deployment', ref);
      const { id: _id, created: _c, updated: _u, ...rest } = current;
      const next = { ...rest };
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
      checkRunControl(next);
      return { before: current, after: await writeDeployment(client, current.id, next) };
    });
    await this.afterChange(before, after);
    return after;
  }

  setPaused(ref: string, paused: boolean): Promise<Deployment> {
    return this.update(ref, { paused });
  }

  async delete(ref: string): Promise<void> {
    const d = await requireDeployment(this.pg, ref);
    await this.pg.query('DELETE FROM deployments WHERE id = $1', [d.id]);
    await this.runs.clearScheduled(d.id);
  }

  /**
   * Creates or updates deployments by name, all in one transaction (nothing is half-written). A declaration
   * without `paused` keeps the current paused flag, so re-deploying does not resume a paused deployment.
   */
  async apply(inputs: Array<Omit<NewDeployment, 'paused'> & { paused?: boolean }>): Promise<Array<{ name: string; id: string; outcome: ApplyOutcome }>> {
    inputs.forEach((d, i) => checkParameterSchema(d.parameter_schema, `[${i}].parameter_schema`));
    inputs.forEach((d, i) => checkRunControl(d, `[${i}].`));
    const changes: Array<{ before: Deployment; after: Deployment }> = [];
    const report = await inTransaction(this.pg, async (client) => {
      const out: Array<{ name: string; id: string; outcome: ApplyOutcome }> = [];
      for (const input of inputs) {
        const current = await getDeployment(client, input.name, true);
        if (!current || current.name !== input.name) {
          const created = await insertDeployment(client, { ...input, paused: input.paused ?? false });
          out.push({ name: created.name, id: created.id, outcome: 'created' });
          continue;
        }
        const next = { ...input, concurrency: input.concurrency ?? null, priority: input.priority ?? 0, slas: input.slas ?? [], paused: input.paused ?? current.paused };
        if (DECLARED.every((k) => canonicalJson(current[k]) === canonicalJson(next[k]))) {
          out.push({ name: current.name, id: current.id, outcome: 'unchanged' });
          continue;
        }
        const after = await writeDeployment(client, current.id, next);
        changes.push({ before: current, after });
        out.push({ name: after.name, id: after.id, outcome: 'updated' });
      }
      return out;
    });
    for (const c of changes) await this.afterChange(c.before, c.after);
    return report;
  }

  private async afterChange(before: Deployment, after: Deployment): Promise<void> {
    const schedulesChanged = canonicalJson(before.schedules) !== canonicalJson(after.schedules) || before.work_pool !== after.work_pool;
    if (schedulesChanged || (!before.paused && after.paused)) await this.runs.clearScheduled(after.id);
  }
}
