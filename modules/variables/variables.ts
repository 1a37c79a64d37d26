import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { Pool } from '../../infra/db.ts';
import type { Variable, VariableInput } from '../../schemas/secret.ts';

/** The `variables` table: named JSON values (configuration read by flows and automation templates). */

const COLUMNS = `name, value, tags, created_at, updated_at`;

function toVariable(r: Record<string, unknown>): Variable {
  return {
    name: r.name as string,
    value: r.value,
    tags: r.tags as string[],
    created_at: (r.created_at as Date).toISOString(),
    updated_at: (r.updated_at as Date).toISOString(),
  };
}

export async function listVariables(pg: Pool): Promise<Variable[]> {
  return (await pg.query(`SELECT ${COLUMNS} FROM variables ORDER BY name`)).rows.map(toVariable);
}

export async function findVariable(pg: Pool, name: string): Promise<Variable | null> {
  const r = (await pg.query(`SELECT ${COLUMNS} FROM variables WHERE name = $1`, [name])).rows[0];
  return r ? toVariable(r) : null;
}

export async function getVariable(pg: Pool, name: string): Promise<Variable> {
  const v = await findVariable(pg, name);
  if (!v) throw new NotFoundError('variable', name);
  return v;
}

/** 409 when the name is taken. */
export async function createVariable(pg: Pool, input: VariableInput): Promise<Variable> {
  const r = (
    await pg.query(`INSERT INTO variables (name, value, tags) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`, [
      input.name,
      JSON.stringify(input.value ?? null),
      input.tags,
    ])
  ).rows[0];
  if (!r) throw new ConflictError(`variable "${input.name}" exists; PUT /api/variables/${input.name} changes it`);
  return toVariable(r);
}

/** Creates or replaces the value (tags kept unless given). */
export async function putVariable(pg: Pool, name: string, value: unknown, tags?: string[]): Promise<{ variable: Variable; created: boolean }> {
  const r = (
    await pg.query(
      `INSERT INTO variables AS v (name, value, tags) VALUES ($1, $2, COALESCE($3::text[], '{}'))
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, tags = COALESCE($3::text[], v.tags), updated_at = now()
       RETURNING ${COLUMNS}, (xmax = 0) AS created`,
      [name, JSON.stringify(value ?? null), tags ?? null],
    )
  ).rows[0];
  return { variable: toVariable(r), created: r.created as boolean };
}

export async function deleteVariable(pg: Pool, name: string): Promise<void> {
  const res = await pg.query(`DELETE FROM variables WHERE name = $1`, [name]);
  if (!res.rowCount) throw new NotFoundError('variable', name);
}

/**
 * Values of the named variables with a short cache (automation templates read them on every firing):
 * a change is seen within `ttlMs`. Missing variables read as undefined.
 */
export class VariableCache {
  private readonly entries = new Map<string, { value: unknown; at: number }>();

  constructor(
    private readonly pg: Pool,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async values(names: readonly string[]): Promise<Record<string, unknown>> {
    const now = Date.now();
    const out: Record<string, unknown> = {};
    const missing: string[] = [];
    for (const n of names) {
      const e = this.entries.get(n);
      if (e && now - e.at < this.ttlMs) out[n] = e.value;
      else missing.push(n);
    }
    if (missing.length) {
      const res = await this.pg.query(`SELECT name, value FROM variables WHERE name = ANY($1::text[])`, [missing]);
      const found = new Map(res.rows.map((r) => [r.name as string, r.value as unknown]));
      for (const n of missing) {
        const value = found.get(n);
        if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
        this.entries.set(n, { value, at: now });
        out[n] = value;
      }
    }
    return out;
  }
}
