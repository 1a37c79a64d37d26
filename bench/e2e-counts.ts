import { createHash } from 'node:crypto';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Queue } from 'bullmq';
import pg from 'pg';
import { PrivateNats, PrivatePostgres, PrivateRedis } from '../tests/support/private-services.ts';
import { RedisStateStore } from '../modules/automations/index.ts';
import type { Runtime } from '../infra/runtime.ts';
import type { BenchTable } from './report.ts';

/**
 * `--counts`: the engine runs against NATS, Redis and PostgreSQL servers of the bench's own (the shared
 * ones serve other users at the same time), and each phase counts what the path costs in round trips:
 * Postgres statements (pg_stat_statements), Redis commands (MONITOR: scripts by name, and the commands
 * they run inside), NATS messages by kind (a wildcard subscription sees every one). Counting slows the
 * servers down (MONITOR above all): the phase's timings are then not the bench's figures.
 */
export interface PrivateServers {
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startPrivateServers(): Promise<PrivateServers> {
  const servers: { destroy(): Promise<void> }[] = [];
  const stop = async () => {
    for (const s of servers) await s.destroy().catch(() => {});
  };
  try {
    const [nats, redis, postgres] = await Promise.all([PrivateNats.create(), PrivateRedis.create(), PrivatePostgres.create()]);
    servers.push(nats, redis, postgres);
    await Promise.all([nats.start(), redis.start(), postgres.start()]);
    // pg_stat_statements needs a restart to load; the cluster is new, so a crash restart costs nothing.
    await withPg(postgres.url, (c) => c.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`));
    await postgres.kill();
    await postgres.start();
    await withPg(postgres.url, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
    return { env: { REFLEX_NATS_URL: nats.url, REFLEX_REDIS_URL: redis.url, REFLEX_DATABASE_URL: postgres.url }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface Counter {
  /** Starts counting (before a phase's first request). */
  begin(): Promise<void>;
  /** Stops counting (after its drain) and gives the counts, divided by the phase's qualifying events. */
  end(qualifying: number, label: string): Promise<BenchTable[]>;
  close(): Promise<void>;
}

type Tally = Map<string, number>;
const add = (t: Tally, k: string, n = 1) => t.set(k, (t.get(k) ?? 0) + n);

/** What a NATS message is, from its subject and reply subject (the stream's prefix stripped). */
function natsKind(subject: string, reply: string | undefined, eventsPrefix: string, enginePrefix: string): string {
  if (reply?.startsWith('$JS.ACK.')) return `delivered to consumer ${reply.split('.')[3]}`;
  if (subject.startsWith(eventsPrefix)) return `published ${subject.slice(eventsPrefix.length)}`;
  if (subject.startsWith(enginePrefix)) return `published ${subject.slice(enginePrefix.length)}`;
  if (subject.startsWith('$JS.ACK.')) return `ack from ${subject.split('.')[3]}`;
  if (subject.startsWith('$JS.API.CONSUMER.MSG.NEXT.')) return `pull request ${subject.split('.').pop()}`;
  if (subject.startsWith('$JS.API.')) return `JetStream API ${subject.split('.').slice(2, 4).join('.')}`;
  if (subject.startsWith('$JS.EVENT.')) return 'server advisories';
  if (subject.startsWith('_INBOX.')) return 'replies (publish acks, API answers)';
  return `other ${subject.split('.').slice(0, 3).join('.')}`;
}

/**
 * `rt` is the probe's runtime on the private servers: its Redis connection knows every script's SHA (it
 * defines BullMQ's and the automations commit), and its own commands are left out of the counts.
 */
export async function openCounter(rt: Runtime, env: Record<string, string>): Promise<Counter> {
  const scripts = await scriptNames(rt);
  // The probe's queue reads (its idle checks) go through this one connection.
  const probePort = String(rt.redis.stream?.localPort);
  const monitorConn = rt.redis.duplicate({ connectionName: 'bench-monitor' });
  const monitor = await monitorConn.monitor();
  const spy: NatsConnection = await connect({ servers: env.REFLEX_NATS_URL, name: 'bench-spy' });
  let counting = false;
  const redisTop: Tally = new Map();
  const redisLua: Tally = new Map();
  const nats: Tally = new Map();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!counting) return;
    const name = args[0].toLowerCase();
    if (source === 'lua') return void add(redisLua, name);
    if (source.split(':').pop() === probePort) return;
    const script = name === 'evalsha' ? scripts.get(args[1]) : name === 'eval' ? scripts.get(sha1(args[1])) : undefined;
    add(redisTop, script ? `script ${script}` : name);
  });
  const prefix = rt.names.eventSubject('');
  const enginePrefix = rt.names.eventSubject('reflex.').slice(0, -'reflex.'.length);
  const sub: Subscription = spy.subscribe('>', {
    callback: (_e, m) => {
      if (counting) add(nats, natsKind(m.subject, m.reply, prefix, enginePrefix));
    },
  });
  await spy.flush();
  const pgUrl = env.REFLEX_DATABASE_URL;
  return {
    async begin() {
      redisTop.clear();
      redisLua.clear();
      nats.clear();
      await withPg(pgUrl, (c) => c.query('SELECT pg_stat_statements_reset()'));
      counting = true;
    },
    async end(qualifying, label) {
      counting = false;
      const statements = await withPg(pgUrl, (c) =>
        c.query<{ query: string; calls: string; rows: string; mean_ms: number }>(
          `SELECT query, calls, rows, mean_exec_time AS mean_ms FROM pg_stat_statements
           WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC`,
        ),
      );
      const per = (n: number) => Math.round((n / qualifying) * 1000) / 1000;
      const pgTable: BenchTable = {
        title: `Postgres statements, ${label} (${qualifying} qualifying events; pg_stat_statements, private cluster)`,
        columns: ['calls', 'per qualifying event', 'rows per call', 'mean ms', 'statement'],
        rows: statements.rows.map((r) => [Number(r.calls), per(Number(r.calls)), Math.round((Number(r.rows) / Number(r.calls)) * 10) / 10, Math.round(r.mean_ms * 100) / 100, oneLine(r.query)]),
      };
      const tallyTable = (title: string, t: Tally): BenchTable => ({
        title,
        columns: ['count', 'per qualifying event', 'what'],
        rows: [...t].sort((a, b) => b[1] - a[1]).map(([k, n]) => [n, per(n), k]),
      });
      return [
        pgTable,
        tallyTable(`Redis commands sent by the engine, ${label} (MONITOR; EVAL/EVALSHA by script)`, redisTop),
        tallyTable(`Redis commands run inside those scripts, ${label}`, redisLua),
        tallyTable(`NATS messages by kind, ${label} (every message through the private server)`, nats),
      ];
    },
    async close() {
      sub.unsubscribe();
      await spy.close().catch(() => {});
      monitorConn.disconnect();
    },
  };
}

function sha1(text: string | undefined): string {
  return createHash('sha1').update(text ?? '').digest('hex');
}

function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 110 ? `${s.slice(0, 107)}...` : s;
}

/** SHA1 → name of every Lua script the engine runs: BullMQ's (by its names) and the automations commit. */
async function scriptNames(rt: Runtime): Promise<Map<string, string>> {
  const queue = new Queue('bench-scripts', { connection: rt.redis, prefix: rt.names.bullPrefix });
  await queue.waitUntilReady();
  new RedisStateStore(rt.redis, rt.names);
  const set = (rt.redis as unknown as { scriptsSet: Record<string, { sha: string }> }).scriptsSet;
  await queue.close();
  return new Map(Object.entries(set).map(([name, s]) => [s.sha, name.replace(/:[\d.]+$/, '')]));
}
