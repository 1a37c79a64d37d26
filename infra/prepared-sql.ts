import { sha256Hex } from '../core/ids.ts';
import type { PoolClient } from './db.ts';

/**
 * A statement whose values are kept apart from its text as SQL literals (`$1`… in the text), so that the
 * text, the same from one batch to the next, can be prepared once per connection.
 */
export interface Statement {
  readonly text: string;
  /** The Postgres type of each placeholder, in order. */
  readonly types: readonly string[];
  /** Each placeholder's value as a SQL literal (with its cast). */
  readonly args: readonly string[];
}

/** How a statement builder places a value: inline as its literal, or as the next placeholder. */
export type PlaceValue = (type: string, literal: string) => string;

/** Values inline: the statement is plain SQL text. */
export const inline: PlaceValue = (_type, literal) => literal;

/** Collects a statement's values as placeholders while its text is built. */
export class Params {
  private readonly types: string[] = [];
  private readonly args: string[] = [];

  readonly place: PlaceValue = (type, literal) => {
    this.types.push(type);
    this.args.push(literal);
    return `$${this.args.length}`;
  };

  statement(text: string): Statement {
    return { text, types: this.types, args: this.args };
  }
}

/**
 * SQL-level prepared statements for queries sent as one simple query (several statements, one round
 * trip, so no protocol-level parameters): a statement is sent as `PREPARE` the first time on a connection
 * and as `EXECUTE name(<literals>)` after. Postgres then parses and analyses it once per connection and,
 * after five executions, plans it once (a generic plan); for the run state writer's batch statement that
 * is ~38 % of its Postgres CPU (docs/performance.md, round 11).
 *
 * A generic plan is kept until the tables' statistics change, which without autovacuum may be never: one
 * made on a new, empty table could be a sequential scan and stay one as the table grows (the failure
 * tests/perf.plans.test.ts guards against). So `run` executes with sequential scans disabled for its
 * transaction (`SET LOCAL enable_seqscan = off`): every statement prepared here reaches its rows through a
 * key, and its plan is then an index plan whatever the table's size when it was made.
 *
 * Prepared statements outlive a transaction's rollback, and a failed query leaves unknown which of its
 * statements ran: after a failure, the connection's prepared names are read back from
 * `pg_prepared_statements` before its next use. Like every named statement, they need session-level
 * connections (no pooler in transaction mode; docs/operations.md).
 */
export class PreparedStatements {
  /** Per connection: the names prepared on it, or null when unknown since a failed query. */
  private readonly byClient = new WeakMap<PoolClient, Set<string> | null>();
  /** Each text's name (a digest of the text): a writer has a few dozen texts, hashed once each. */
  private readonly names = new Map<string, string>();

  constructor(private readonly prefix: string) {}

  /**
   * Runs statements in one simple query and answers each one's rows; a Statement is executed as prepared.
   * Null entries are skipped, and answer no rows. A Statement must come inside a transaction the caller
   * began (its BEGIN in an earlier query or earlier in this one): `SET LOCAL` lasts until its end.
   */
  async run(client: PoolClient, statements: Array<string | Statement | null>): Promise<Array<Record<string, unknown>[]>> {
    let known = this.byClient.get(client);
    if (known === null) {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements WHERE starts_with(name, $1)', [this.prefix]);
      known = new Set(rows.map((r) => r.name));
    }
    known ??= new Set();
    const sql: string[] = [];
    // For each entry, the index of its rows among the query's results (-1: none).
    const at: number[] = [];
    const preparing: string[] = [];
    let prepared = false;
    for (const s of statements) {
      if (s === null) {
        at.push(-1);
        continue;
      }
      if (typeof s === 'string') {
        at.push(sql.push(s) - 1);
        continue;
      }
      if (!prepared) {
        sql.push('SET LOCAL enable_seqscan = off');
        prepared = true;
      }
      const name = this.nameOf(s.text);
      if (!known.has(name) && !preparing.includes(name)) {
        sql.push(`PREPARE ${name}${s.types.length ? `(${s.types.join(', ')})` : ''} AS ${s.text}`);
        preparing.push(name);
      }
      at.push(sql.push(s.args.length ? `EXECUTE ${name}(${s.args.join(', ')})` : `EXECUTE ${name}`) - 1);
    }
    let res: Array<{ rows: Record<string, unknown>[] }>;
    try {
      const out = (await client.query(sql.join(';\n'))) as unknown as { rows: Record<string, unknown>[] } | Array<{ rows: Record<string, unknown>[] }>;
      res = Array.isArray(out) ? out : [out];
    } catch (err) {
      this.byClient.set(client, null);
      throw err;
    }
    for (const name of preparing) known.add(name);
    this.byClient.set(client, known);
    return at.map((i) => (i < 0 ? [] : res[i].rows));
  }

  private nameOf(text: string): string {
    let name = this.names.get(text);
    if (name === undefined) {
      name = `${this.prefix}${sha256Hex(text).slice(0, 24)}`;
      // Texts come from a fixed set of shapes; the bound only guards against a caller that inlines values.
      if (this.names.size >= 1024) this.names.clear();
      this.names.set(text, name);
    }
    return name;
  }
}
