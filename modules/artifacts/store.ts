import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { systemEvent } from '../../core/events.ts';
import { isUuid, newId } from '../../core/ids.ts';
import { EventNames, resourceId, Roles } from '../../core/names.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Pool } from '../../infra/db.ts';
import type { Artifact, ArtifactListQuery } from '../../schemas/artifact.ts';
import { artifactData, checkDescription, checkKey, checkProgress, type ArtifactContent } from './content.ts';

export interface CreateArtifactInput {
  content: ArtifactContent;
  key?: string | null;
  description?: string | null;
  flow_run_id?: string | null;
  task_run_id?: string | null;
}

const COLUMNS = 'id, key, type, description, data, flow_run_id, task_run_id, created, updated';

function fromRow(r: Record<string, unknown>): Artifact {
  return {
    id: r.id as string,
    key: (r.key as string | null) ?? null,
    type: r.type as Artifact['type'],
    description: (r.description as string | null) ?? null,
    data: r.data as Record<string, unknown>,
    flow_run_id: (r.flow_run_id as string | null) ?? null,
    task_run_id: (r.task_run_id as string | null) ?? null,
    created: (r.created as Date).toISOString(),
    updated: (r.updated as Date).toISOString(),
  };
}

/**
 * The artifacts table. Creating one checks the content (artifactData), inserts it, then publishes
 * `reflex.artifact.created` (after the commit, so a subscriber can always read the artifact it names; a
 * publish that fails leaves the artifact stored and is logged by the caller).
 */
export class Artifacts {
  constructor(
    private readonly pg: Pool,
    private readonly bus: EventBus | null,
  ) {}

  async create(input: CreateArtifactInput): Promise<Artifact> {
    const key = checkKey(input.key);
    const description = checkDescription(input.description);
    const data = artifactData(input.content);
    for (const field of ['flow_run_id', 'task_run_id'] as const) {
      const v = input[field];
      if (v != null && !isUuid(v)) throw new ValidationError(`invalid ${field}: must be a UUID`, [{ path: field, message: 'must be a UUID' }]);
    }
    const res = await this.pg.query(
      `INSERT INTO artifacts (id, key, type, description, data, flow_run_id, task_run_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [newId(), key, input.content.type, description, JSON.stringify(data), input.flow_run_id ?? null, input.task_run_id ?? null],
    );
    const artifact = fromRow(res.rows[0]);
    await this.bus?.publish(artifactEvent(artifact));
    return artifact;
  }

  /** Sets a progress artifact's value in place (progress is one artifact that moves, not a new version per step). */
  async updateProgress(id: string, progress: number): Promise<Artifact> {
    const value = checkProgress(progress);
    if (!isUuid(id)) throw new NotFoundError('artifact', id);
    const res = await this.pg.query(
      `UPDATE artifacts SET data = jsonb_build_object('progress', $2::float8), updated = now() WHERE id = $1 AND type = 'progress' RETURNING ${COLUMNS}`,
      [id, value],
    );
    if (!res.rows[0]) throw new NotFoundError('progress artifact', id);
    return fromRow(res.rows[0]);
  }

  async get(id: string): Promise<Artifact | null> {
    if (!isUuid(id)) return null;
    const res = await this.pg.query(`SELECT ${COLUMNS} FROM artifacts WHERE id = $1`, [id]);
    return res.rows[0] ? fromRow(res.rows[0]) : null;
  }

  /** The current (newest) version of a key. */
  async latest(key: string): Promise<Artifact | null> {
    const res = await this.pg.query(`SELECT ${COLUMNS} FROM artifacts WHERE key = $1 ORDER BY created DESC, id DESC LIMIT 1`, [key]);
    return res.rows[0] ? fromRow(res.rows[0]) : null;
  }

  /** Newest first; ids are UUID v7, so `id < cursor` pages in creation order. */
  async list(q: ArtifactListQuery): Promise<{ items: Artifact[]; next_cursor: string | null }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.key !== undefined) where.push(`key = ${arg(q.key)}`);
    if (q.flow_run_id !== undefined) where.push(`flow_run_id = ${arg(q.flow_run_id)}`);
    if (q.task_run_id !== undefined) where.push(`task_run_id = ${arg(q.task_run_id)}`);
    if (q.type !== undefined) where.push(`type = ${arg(q.type)}`);
    if (q.cursor !== undefined) where.push(`id < ${arg(q.cursor)}`);
    const res = await this.pg.query(
      `SELECT ${COLUMNS} FROM artifacts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${arg(q.limit + 1)}`,
      args,
    );
    const rows = res.rows.slice(0, q.limit).map(fromRow);
    return { items: rows, next_cursor: res.rows.length > q.limit ? rows[rows.length - 1].id : null };
  }
}

function artifactEvent(a: Artifact) {
  const related: Record<string, string>[] = [];
  if (a.flow_run_id) related.push({ 'reflex.resource.id': resourceId('flow-run', a.flow_run_id), 'reflex.resource.role': Roles.flowRun });
  if (a.task_run_id) related.push({ 'reflex.resource.id': resourceId('task-run', a.task_run_id), 'reflex.resource.role': Roles.taskRun });
  return systemEvent(
    EventNames.artifactCreated,
    { 'reflex.resource.id': resourceId('artifact', a.id), ...(a.key ? { 'reflex.resource.name': a.key } : {}) },
    { related, payload: { id: a.id, key: a.key, type: a.type, description: a.description, flow_run_id: a.flow_run_id, task_run_id: a.task_run_id } },
  );
}
