import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { Pool } from '../../infra/db.ts';
import type { SecretGrants, SecretInput, SecretUpdate, SecretView } from '../../schemas/secret.ts';
import { KeyRing, seal, unseal } from './cipher.ts';
import { SecretAccessDeniedError, SecretsNotConfiguredError, type Requester } from './errors.ts';

/**
 * The `secrets` table. Values go in through create/put (sealed with the current key) and come out only
 * through resolve(), which checks the grants against the requester and stamps last_used_at. Every read
 * the API serves is a SecretView: name, grants and times, never the value.
 */

const VIEW = `name, description, allowed, created_at, updated_at, last_used_at`;

function toView(r: Record<string, unknown>): SecretView {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));
  return {
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    allowed: r.allowed as SecretGrants,
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
    last_used_at: iso(r.last_used_at),
  };
}

export function isGranted(allowed: SecretGrants, r: Requester): boolean {
  const hit = (list: string[], mine: string[]) => list.some((x) => mine.includes(x));
  return hit(allowed.deployments, r.deployments) || hit(allowed.work_pools, r.work_pools) || hit(allowed.automations, r.automations);
}

export class Secrets {
  constructor(
    private readonly pg: Pool,
    private readonly ring: KeyRing,
  ) {}

  /** Whether this process can store secrets (REFLEX_SECRETS_KEY is set). */
  get configured(): boolean {
    return this.ring.current !== null;
  }

  private sealWithCurrent(name: string, value: string): { sealed: Buffer; keyId: string } {
    const key = this.ring.current;
    if (!key) throw new SecretsNotConfiguredError('secrets cannot be stored: REFLEX_SECRETS_KEY is not set (32 bytes in base64, e.g. `openssl rand -base64 32`)');
    return { sealed: seal(key, name, value), keyId: key.id };
  }

  async list(): Promise<SecretView[]> {
    const res = await this.pg.query(`SELECT ${VIEW} FROM secrets ORDER BY name`);
    return res.rows.map(toView);
  }

  async get(name: string): Promise<SecretView> {
    const res = await this.pg.query(`SELECT ${VIEW} FROM secrets WHERE name = $1`, [name]);
    if (!res.rows[0]) throw new NotFoundError('secret', name);
    return toView(res.rows[0]);
  }

  /** Creates a secret; 409 when the name is taken. */
  async create(input: SecretInput): Promise<SecretView> {
    const { sealed, keyId } = this.sealWithCurrent(input.name, input.value);
    const res = await this.pg.query(
      `INSERT INTO secrets (name, sealed, key_id, description, allowed) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO NOTHING RETURNING ${VIEW}`,
      [input.name, sealed, keyId, input.description ?? null, JSON.stringify(input.allowed)],
    );
    if (!res.rows[0]) throw new ConflictError(`secret "${input.name}" exists; PUT /api/secrets/${input.name} changes it`);
    return toView(res.rows[0]);
  }

  /** Creates or changes a secret: what the update omits is kept (a new secret needs a value). */
  async put(name: string, update: SecretUpdate): Promise<{ secret: SecretView; created: boolean }> {
    const sealedNew = update.value !== undefined ? this.sealWithCurrent(name, update.value) : null;
    const res = await this.pg.query(
      `INSERT INTO secrets AS s (name, sealed, key_id, description, allowed)
         SELECT $1, $2, $3, $4, COALESCE($5::jsonb, '{"deployments":[],"work_pools":[],"automations":[]}') WHERE $2::bytea IS NOT NULL
       ON CONFLICT (name) DO UPDATE SET
         sealed = COALESCE($2, s.sealed), key_id = COALESCE($3, s.key_id),
         description = CASE WHEN $6 THEN $4 ELSE s.description END,
         allowed = COALESCE($5::jsonb, s.allowed), updated_at = now()
       RETURNING ${VIEW}, (xmax = 0) AS created`,
      [name, sealedNew?.sealed ?? null, sealedNew?.keyId ?? null, update.description ?? null, update.allowed ? JSON.stringify(update.allowed) : null, update.description !== undefined],
    );
    if (res.rows[0]) return { secret: toView(res.rows[0]), created: res.rows[0].created as boolean };
    // No value given: nothing was inserted (a new secret needs one); change the grants of an existing one.
    const exists = await this.pg.query(
      `UPDATE secrets SET allowed = COALESCE($2::jsonb, allowed), description = CASE WHEN $4 THEN $3 ELSE description END, updated_at = now()
       WHERE name = $1 RETURNING ${VIEW}`,
      [name, update.allowed ? JSON.stringify(update.allowed) : null, update.description ?? null, update.description !== undefined],
    );
    if (!exists.rows[0]) throw new NotFoundError('secret', name);
    return { secret: toView(exists.rows[0]), created: false };
  }

  async delete(name: string): Promise<void> {
    const res = await this.pg.query(`DELETE FROM secrets WHERE name = $1`, [name]);
    if (!res.rowCount) throw new NotFoundError('secret', name);
  }

  /**
   * The values of `names` for `requester`, all or nothing: a missing secret, a grant that does not name
   * the requester, or a key this process lacks is refused with the secret and the requester named.
   */
  async resolve(names: readonly string[], requester: Requester): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (names.length === 0) return out;
    const res = await this.pg.query(`SELECT name, sealed, key_id, allowed FROM secrets WHERE name = ANY($1::text[])`, [names]);
    const rows = new Map(res.rows.map((r) => [r.name as string, r]));
    for (const name of names) {
      const r = rows.get(name);
      if (!r) throw new SecretAccessDeniedError(name, requester, 'does not exist; asked for by');
      if (!isGranted(r.allowed as SecretGrants, requester)) throw new SecretAccessDeniedError(name, requester);
      const key = this.ring.key(r.key_id as string);
      if (!key) {
        throw new SecretsNotConfiguredError(
          `secret "${name}" is encrypted with key ${r.key_id as string}, which is neither REFLEX_SECRETS_KEY nor in REFLEX_SECRETS_PREVIOUS_KEYS of this process`,
        );
      }
      out.set(name, unseal(key, name, r.sealed as Buffer));
    }
    await this.pg.query(`UPDATE secrets SET last_used_at = now() WHERE name = ANY($1::text[])`, [names]);
    return out;
  }

  /**
   * Re-encrypts every secret not sealed with the current key (reading with the previous keys); answers
   * how many were re-encrypted and the names it could not read (their key is not configured).
   */
  async rotate(): Promise<{ reencrypted: string[]; unreadable: string[] }> {
    const current = this.ring.current;
    if (!current) throw new SecretsNotConfiguredError('cannot rotate: REFLEX_SECRETS_KEY (the new key) is not set');
    const res = await this.pg.query(`SELECT name, sealed, key_id FROM secrets WHERE key_id <> $1 ORDER BY name`, [current.id]);
    const reencrypted: string[] = [];
    const unreadable: string[] = [];
    for (const r of res.rows) {
      const key = this.ring.key(r.key_id as string);
      if (!key) {
        unreadable.push(r.name as string);
        continue;
      }
      const value = unseal(key, r.name as string, r.sealed as Buffer);
      // Conditional on the old key id: a concurrent write with the new key is not overwritten.
      const upd = await this.pg.query(`UPDATE secrets SET sealed = $2, key_id = $3 WHERE name = $1 AND key_id = $4`, [
        r.name,
        seal(current, r.name as string, value),
        current.id,
        r.key_id,
      ]);
      if (upd.rowCount) reencrypted.push(r.name as string);
    }
    return { reencrypted, unreadable };
  }
}

export { KeyRing };
